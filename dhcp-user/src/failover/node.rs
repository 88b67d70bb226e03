//! One whole failover server, sans-IO: the DHCP [`Engine`], the failover [`Relationship`]
//! (the same one the runtime runs) and an in-memory lease file ([`Disk`]) standing in for the
//! journal thread, without sockets or clocks.
//!
//! It exists for deterministic simulation (`tests/src/sim`): the simulator owns the network,
//! the clock and the faults, and drives two `Node`s. The node executes the relationship's
//! actions as the runtime does, synchronously:
//! * a DHCP outcome's durable leases are appended and synced before the reply is returned,
//!   then handed to the relationship as local changes (the journal's replicator);
//! * `Persist` is appended and synced, then reported durable (`handle_durable`);
//! * `Record` (the partner's acks) is appended without a sync: a crash may lose it, which
//!   only makes the server send the update again.

use super::relationship::{Action, Note, Persist, Relationship, RelationshipConfig};
use crate::dhcp::{Engine, EngineConfig, Reply, RequestMeta};
use crate::failover::FailoverView;
use crate::lease::{Lease, record};
use crate::time::Now;
use dhcp_failover::{Command, Event, Peer, PeerConfig, PersistedState, Time};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The static configuration of one simulated server.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The engine's configuration (pools name the relationship `peer.name`).
    pub engine: EngineConfig,
    /// The failover relationship.
    pub peer: PeerConfig,
    /// The address DHCP requests arrive on (the default server identifier).
    pub iface_addr: Ipv4Addr,
    /// `max-lease-misbalance` percent (pool balancing).
    pub max_lease_misbalance: u32,
    /// `hot-standby` reserve percent, if hot standby.
    pub hot_standby_reserve_percent: Option<u8>,
}

/// One record of the in-memory lease file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskEntry {
    /// A lease record (stored as the lease file would: through `to_record`/`from_record`).
    Lease(Lease),
    /// The relationship's `failover peer … state` record.
    State(PersistedState),
}

/// The in-memory lease file: an append-only log with a sync point. Everything before
/// `synced` survives a crash; the unsynced tail may be lost (all or a prefix of it).
#[derive(Clone, Debug, Default)]
pub struct Disk {
    entries: Vec<DiskEntry>,
    synced: usize,
}

impl Disk {
    /// Appends a record (not yet durable).
    pub fn append(&mut self, e: DiskEntry) {
        self.entries.push(e);
    }

    /// fsync: everything appended so far is durable.
    pub fn sync(&mut self) {
        self.synced = self.entries.len();
    }

    /// Number of records not yet synced.
    pub fn unsynced(&self) -> usize {
        self.entries.len().saturating_sub(self.synced)
    }

    /// A crash: the unsynced tail is lost except its first `keep` records (a torn write
    /// keeps a prefix). What remains is durable.
    pub fn crash(&mut self, keep: usize) {
        let len = self.synced.saturating_add(keep).min(self.entries.len());
        self.entries.truncate(len);
        self.synced = len;
    }

    /// All records, oldest first.
    pub fn entries(&self) -> &[DiskEntry] {
        &self.entries
    }

    /// The latest record per lease, as a restart would load them (ordered by address).
    pub fn leases(&self) -> BTreeMap<Ipv4Addr, Lease> {
        let mut m = BTreeMap::new();
        for e in &self.entries {
            if let DiskEntry::Lease(l) = e {
                m.insert(l.ip, l.clone());
            }
        }
        m
    }

    /// The latest failover state record.
    pub fn state(&self) -> Option<PersistedState> {
        self.entries.iter().rev().find_map(|e| match e {
            DiskEntry::State(s) => Some(*s),
            DiskEntry::Lease(_) => None,
        })
    }

    /// Rewrites the file compactly (what the runtime does at startup): the state record,
    /// then one record per lease. Durable.
    pub fn compact(&mut self) {
        let state = self.state();
        let mut entries: Vec<DiskEntry> = state.into_iter().map(DiskEntry::State).collect();
        entries.extend(self.leases().into_values().map(DiskEntry::Lease));
        self.entries = entries;
        self.synced = self.entries.len();
    }
}

/// What the node observed, for the simulator's log and checks (drained with
/// [`Node::take_trace`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trace {
    /// A peer event, as handled (Debug form; logs included).
    Event(String),
    /// The partner acked our update of `ip` carrying `tstp`.
    Acked { ip: Ipv4Addr, tstp: u32 },
    /// A partner's update (`status`, Debug form) was applied (true) or refused (false);
    /// `why` is the refusal, or the stored lease after applying it.
    Received { ip: Ipv4Addr, tstp: u32, status: String, accepted: bool, why: String },
    /// The peer asked to close the TCP connection.
    Disconnect(String),
    /// A lease this server changed itself (DHCP, expiry, pool balancing), as journaled.
    Local(String),
}

/// One simulated server.
pub struct Node {
    cfg: NodeConfig,
    engine: Arc<Engine>,
    rel: Relationship,
    disk: Disk,
    close_requested: bool,
    trace: Vec<Trace>,
    /// Writes fail (as an fsync error would) until this monotonic time, ms.
    writes_fail_until: u64,
    /// Local changes whose write failed: replicated once a later write makes them durable.
    unreplicated: Vec<Lease>,
}

fn now_of(t: Time) -> Now {
    Now::at(t.unix)
}

impl Node {
    /// A first start with an empty lease file.
    pub fn new(cfg: NodeConfig, now: Time) -> Node {
        Node::restart(cfg, Disk::default(), false, now)
    }

    /// A (re)start from `disk`, or from nothing when `lose_disk` (the lease file is gone:
    /// the relationship starts in RECOVER).
    pub fn restart(cfg: NodeConfig, disk: Disk, lose_disk: bool, now: Time) -> Node {
        let mut disk = if lose_disk { Disk::default() } else { disk };
        let engine = Arc::new(Engine::new(cfg.engine.clone()));
        for l in disk.leases().into_values() {
            // Through the lease file's record format, as a real restart reads it.
            engine.restore(record::from_record(&record::to_record(&l)));
        }
        let persisted = disk.state();
        disk.compact();
        let rel_cfg = RelationshipConfig {
            peer: cfg.peer.clone(),
            max_lease_misbalance: cfg.max_lease_misbalance,
            hot_standby_reserve_percent: cfg.hot_standby_reserve_percent,
            enforce_xdp: false,
        };
        let rel = Relationship::new(rel_cfg, persisted, engine.clone(), now);
        let mut n = Node {
            cfg,
            engine,
            rel,
            disk,
            close_requested: false,
            trace: Vec::new(),
            writes_fail_until: 0,
            unreplicated: Vec::new(),
        };
        n.execute(now);
        n
    }

    /// A crash: everything in memory is gone; the lease file (with its unsynced tail) is
    /// what remains. Call [`Disk::crash`] on it to lose (part of) the tail.
    pub fn crash(self) -> Disk {
        self.disk
    }

    pub fn config(&self) -> &NodeConfig {
        &self.cfg
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn peer(&self) -> &Peer {
        self.rel.peer()
    }

    pub fn disk(&self) -> &Disk {
        &self.disk
    }

    /// A disk fault: every write until `until_ms` (monotonic) fails as a failed fsync does.
    /// What was appended stays queued, unsynced, and becomes durable with the next write
    /// that succeeds (the journal's behaviour: a failed batch is retried with the next).
    pub fn fail_writes_until(&mut self, until_ms: u64) {
        self.writes_fail_until = until_ms;
    }

    /// No change waits for a write to succeed (nothing left to replicate or offer once it
    /// does).
    pub fn writes_settled(&self) -> bool {
        self.unreplicated.is_empty() && self.rel.writes_settled()
    }

    /// Append-then-sync as the journal thread does; false when the sync fails. A sync that
    /// succeeds also makes the records of failed ones durable, whose local changes are then
    /// replicated (as the journal thread does).
    fn sync(&mut self, now: Time) -> bool {
        if now.mono_ms < self.writes_fail_until {
            return false;
        }
        self.disk.sync();
        for l in std::mem::take(&mut self.unreplicated) {
            if self.engine.relationship_of(l.pool).as_deref() == Some(self.cfg.peer.name.as_str()) {
                self.rel.handle_local_change(now, &l);
            }
        }
        true
    }

    /// Drains what happened since the last call.
    pub fn take_trace(&mut self) -> Vec<Trace> {
        std::mem::take(&mut self.trace)
    }

    /// True once after the peer asked to close the TCP connection (after writing what
    /// `poll_transmit` still returns, best effort).
    pub fn take_close_request(&mut self) -> bool {
        std::mem::take(&mut self.close_requested)
    }

    // ----- DHCP -----

    /// One DHCP request (UDP payload to port 67). Durable leases are journaled and synced
    /// before the reply is returned, then queued for the partner.
    pub fn handle_dhcp(&mut self, now: Time, bytes: &[u8], broadcast: bool) -> Option<Reply> {
        let meta = RequestMeta { iface_addr: self.cfg.iface_addr, broadcast, tied_iface: None };
        let out = self.engine.handle(now_of(now), &meta, bytes);
        let durable = self.commit_and_replicate(now, out.durable);
        self.execute(now);
        // Not durable: the ACK must not go out (the client asks again).
        if durable { out.reply } else { None }
    }

    /// The expiry sweep (the runtime's periodic tick), plus the relationship's tick.
    pub fn tick(&mut self, now: Time) {
        let mut expired = self.engine.expire(now_of(now), usize::MAX);
        // The store's iteration order is a hash order: make it deterministic.
        expired.sort_by_key(|l| u32::from(l.ip));
        self.commit_and_replicate(now, expired);
        self.rel.handle_tick(now);
        self.execute(now);
    }

    /// The journal thread's part: append, sync, then hand the relationship's changes over.
    /// Returns false when `leases` could not be made durable (nothing is replicated, no
    /// reply may go out). With nothing new it still retries a failed write, as the journal
    /// does on its own.
    fn commit_and_replicate(&mut self, now: Time, leases: Vec<Lease>) -> bool {
        let nothing_new = leases.is_empty();
        if nothing_new && self.unreplicated.is_empty() {
            return true;
        }
        for l in &leases {
            self.trace.push(Trace::Local(format!("{} {} ends {} tstp {}", l.ip, l.state.name(), l.ends, l.tstp)));
            self.disk.append(DiskEntry::Lease(l.clone()));
        }
        // Replicated once durable: now, or with the next write that succeeds.
        self.unreplicated.extend(leases);
        let ok = self.sync(now);
        if !ok && !nothing_new {
            self.trace
                .push(Trace::Event(format!("lease file write failed: {} leases not durable", self.unreplicated.len())));
        }
        ok || nothing_new
    }

    // ----- failover inputs -----

    pub fn handle_link_up(&mut self, now: Time) {
        self.rel.handle_link_up(now);
        self.execute(now);
    }

    pub fn handle_link_down(&mut self, now: Time) {
        self.rel.handle_link_down(now);
        self.execute(now);
    }

    pub fn handle_bytes(&mut self, now: Time, data: &[u8]) {
        self.rel.handle_bytes(now, data);
        self.execute(now);
    }

    pub fn handle_timeout(&mut self, now: Time) {
        self.rel.handle_timeout(now);
        self.execute(now);
    }

    pub fn handle_operator(&mut self, now: Time, cmd: Command) {
        self.rel.handle_operator(now, cmd);
        self.execute(now);
    }

    /// Bytes to write to the TCP stream.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        self.rel.poll_transmit(buf)
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.rel.poll_timeout()
    }

    /// The view the engine consults (the same as the runtime publishes; no XDP here).
    pub fn view(&self) -> FailoverView {
        self.rel.view()
    }

    // ----- the executor (what `runtime::failover` does with sockets and the journal) -----

    fn execute(&mut self, now: Time) {
        while let Some(action) = self.rel.poll_action() {
            match action {
                Action::Persist { token, what } => {
                    match what {
                        Persist::State(p) => self.disk.append(DiskEntry::State(p)),
                        Persist::Leases(leases) => {
                            for l in leases {
                                self.disk.append(DiskEntry::Lease(l));
                            }
                        }
                    }
                    let ok = self.sync(now);
                    self.rel.handle_durable(now, token, ok);
                }
                Action::Record(leases) => {
                    for l in leases {
                        self.disk.append(DiskEntry::Lease(l));
                    }
                }
                // The engine already acts on it; there is no NIC here.
                Action::Publish(_) => {}
                Action::Close(reason) => {
                    self.trace.push(Trace::Disconnect(reason));
                    self.close_requested = true;
                }
                Action::Note(n) => self.note(n),
            }
        }
    }

    fn note(&mut self, n: Note) {
        let t = match n {
            Note::Peer(Event::StateChanged { from, to, stos }) => {
                Trace::Event(format!("state {from} -> {to} (stos {stos})"))
            }
            Note::Peer(Event::PartnerStateChanged { from, to, stos }) => {
                Trace::Event(format!("partner state {from} -> {to} (stos {stos})"))
            }
            Note::Peer(Event::Log(_)) => return,
            Note::Peer(other) => Trace::Event(format!("{other:?}")),
            Note::AckFailed { ip, error } => Trace::Event(format!("ack of {ip}: {error}")),
            Note::Received { ip, tstp, status, accepted, why } => Trace::Received { ip, tstp, status, accepted, why },
            Note::Acked { ip, tstp } => Trace::Acked { ip, tstp },
            Note::Balanced(moved) => {
                for l in &moved {
                    self.trace.push(Trace::Local(format!("{} {} (pool balancing)", l.ip, l.state.name())));
                }
                return;
            }
            Note::Held(ips) => Trace::Event(format!("held for the amnesic partner: {ips:?}")),
            Note::SendingUpdates(_) | Note::PoolsChecked | Note::StateWrite { .. } => return,
        };
        self.trace.push(t);
    }
}
