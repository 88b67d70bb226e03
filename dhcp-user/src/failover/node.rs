//! One whole failover server, sans-IO: the DHCP [`Engine`], the failover [`Relationship`]
//! (the same one the runtime runs) and an in-memory lease file ([`Disk`]) standing in for the
//! journal thread, without sockets or clocks.
//!
//! It exists for deterministic simulation (`tests/src/sim`): the simulator owns the network,
//! the clock and the faults, and drives two `Node`s. The node executes the relationship's
//! actions as the runtime's journal thread does, with the fsync as a separate step the
//! simulator schedules (it may take long, and anything may happen meanwhile):
//! * a DHCP request is split as a runtime worker handles it: the engine's decision (the
//!   lease bound in the store, [`Node::handle_dhcp`]), then, whenever the simulator delivers
//!   it, the worker's hand-over to the journal ([`Node::commit_dhcp`]): its durable leases
//!   are appended, and its reply is held until the fsync that covers them completes; then
//!   the leases are handed to the relationship as local changes (the journal's replicator)
//!   and the reply is released;
//! * `Persist` is appended and reported durable (`handle_durable`) when its fsync completes;
//! * `Record` (the partner's acks) is appended without waiting: a crash may lose it, which
//!   only makes the server send the update again.
//!
//! One fsync is in flight at a time ([`Node::sync_start`] .. [`Node::sync_end`]); what is
//! appended meanwhile waits for the next one (group commit, as the journal batches).

use super::relationship::{Action, Note, Persist, Relationship, RelationshipConfig, Token};
use crate::dhcp::{Engine, EngineConfig, Reply, RequestMeta};
use crate::failover::FailoverView;
use crate::lease::{Lease, record};
use crate::runtime::failover::{state_record, to_persisted};
use crate::runtime::journal::appended;
use crate::time::Now;
use dhcp_failover::{Command, Event, Peer, PeerConfig, Time};
use dhcp_journal::FailoverStateRecord;
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

/// The in-memory lease file: the bytes the journal would write (dhcpd.leases text, through
/// dhcp-journal's writer) and a sync point. Everything before `synced` survives a crash; of
/// the unsynced tail a crash keeps any prefix, which may end in the middle of a record (a
/// torn write). A restart reads it as `JournalFile::open` does: parsed by the real parser,
/// a torn last record cut off, the records folded.
#[derive(Clone, Debug)]
pub struct Disk {
    bytes: Vec<u8>,
    synced: usize,
}

impl Default for Disk {
    fn default() -> Disk {
        Disk { bytes: dhcp_journal::header(), synced: 0 }
    }
}

impl Disk {
    /// Appends a lease record (not yet durable).
    pub fn append_lease(&mut self, l: &Lease) {
        self.append_record(&record::to_record(l));
    }

    /// Appends a lease record as the journal formed it (not yet durable).
    pub fn append_record(&mut self, r: &dhcp_journal::LeaseRecord) {
        dhcp_journal::format::write_lease(&mut self.bytes, r);
    }

    /// Appends the relationship's `failover peer … state` record (not yet durable).
    pub fn append_state(&mut self, r: &FailoverStateRecord) {
        dhcp_journal::format::write_failover_state(&mut self.bytes, r);
    }

    /// fsync: everything appended so far is durable.
    pub fn sync(&mut self) {
        self.synced = self.bytes.len();
    }

    /// Bytes written so far (what an fsync begun now covers).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: the file starts with its header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// An fsync begun when the file was `len` bytes long completed: those bytes are durable
    /// (what was appended after it began is not).
    pub fn sync_to(&mut self, len: usize) {
        self.synced = self.synced.max(len.min(self.bytes.len()));
    }

    /// Bytes not yet synced.
    pub fn unsynced(&self) -> usize {
        self.bytes.len().saturating_sub(self.synced)
    }

    /// A crash: the unsynced tail is lost except its first `keep` bytes (a torn write keeps
    /// a prefix, possibly part of a record). What remains is on disk.
    pub fn crash(&mut self, keep: usize) {
        let len = self.synced.saturating_add(keep).min(self.bytes.len());
        self.bytes.truncate(len);
        self.synced = len;
    }

    /// What a restart reads (`JournalFile::open`): the records parsed, a torn record at
    /// the end cut off the file, then folded (the last record per lease and per peer).
    pub fn load(&mut self) -> dhcp_journal::record::State {
        let parsed = dhcp_journal::parse(&self.bytes);
        if let Some(off) = parsed.torn_at {
            self.bytes.truncate(off);
            self.synced = self.synced.min(off);
        }
        dhcp_journal::record::fold(parsed.entries)
    }

    /// Rewrites the file compactly from what was loaded (what the runtime does at startup):
    /// the state records, then one record per lease. Durable.
    pub fn compact(&mut self, state: &dhcp_journal::record::State) {
        let mut bytes = dhcp_journal::header();
        let mut peers: Vec<&FailoverStateRecord> = state.failover.values().collect();
        peers.sort_by(|a, b| a.peer.cmp(&b.peer));
        for r in peers {
            dhcp_journal::format::write_failover_state(&mut bytes, r);
        }
        let mut leases: Vec<&dhcp_journal::LeaseRecord> = state.leases.iter().collect();
        leases.sort_by_key(|r| u32::from(r.ip));
        for r in leases {
            dhcp_journal::format::write_lease(&mut bytes, r);
        }
        self.synced = bytes.len();
        self.bytes = bytes;
    }

    /// The online compaction's snapshot, as the runtime writes it (`journal::compacted_entries`
    /// from the failover state records appended so far and the store's leases), taken now.
    pub fn compaction_snapshot(&self, leases: &[Lease], source: &dyn crate::runtime::journal::LeaseSource) -> Vec<u8> {
        let appended = dhcp_journal::record::fold(dhcp_journal::parse(&self.bytes).entries);
        let mut states: Vec<&FailoverStateRecord> = appended.failover.values().collect();
        states.sort_by(|a, b| a.peer.cmp(&b.peer));
        let mut leases = leases.to_vec();
        leases.sort_by_key(|l| u32::from(l.ip));
        let mut bytes = dhcp_journal::header();
        for e in crate::runtime::journal::compacted_entries(states, [], &leases, source) {
            dhcp_journal::write_entry(&mut bytes, &e);
        }
        bytes
    }

    /// Installs an online compaction (`JournalFile::install`): the snapshot, then every byte
    /// appended since the compaction began at `began` (newer than the snapshot, so they follow
    /// it), written, synced and renamed over the file: all of it durable.
    pub fn install_compaction(&mut self, snapshot: Vec<u8>, began: usize) {
        let since = self.bytes.get(began..).unwrap_or_default().to_vec();
        self.bytes = snapshot;
        self.bytes.extend_from_slice(&since);
        self.synced = self.bytes.len();
    }

    /// The failover state record a restart would load (the last one written).
    pub fn state(&self) -> Option<FailoverStateRecord> {
        let state = dhcp_journal::record::fold(dhcp_journal::parse(&self.bytes).entries);
        state.failover.into_values().next()
    }

    /// The leases a restart would load, by address.
    pub fn leases(&self) -> BTreeMap<Ipv4Addr, Lease> {
        let state = dhcp_journal::record::fold(dhcp_journal::parse(&self.bytes).entries);
        state.leases.iter().map(|r| (r.ip, record::from_record(r))).collect()
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

/// What waits for one fsync: replies (with the caller's tag), local changes to replicate
/// and relationship persists to report durable.
#[derive(Default)]
struct Batch {
    replies: Vec<(u64, Reply)>,
    changes: Vec<Lease>,
    tokens: Vec<Token>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.replies.is_empty() && self.changes.is_empty() && self.tokens.is_empty()
    }
}

/// What a DHCP worker holds between the engine's decision and its hand-over to the journal.
#[derive(Clone, Debug)]
pub struct Commit {
    durable: Vec<Lease>,
    reply: Option<Reply>,
}

impl Commit {
    /// The leases the engine step changed (as it left them).
    pub fn leases(&self) -> &[Lease] {
        &self.durable
    }
}

/// The outcome of [`Node::handle_dhcp`].
#[derive(Clone, Debug)]
pub enum Handled {
    /// Nothing to send.
    Nothing,
    /// A reply that grants nothing durable: it goes out at once.
    Reply(Reply),
    /// Leases to make durable first: for [`Node::commit_dhcp`].
    Commit(Commit),
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
    /// Appended, waiting for the next fsync.
    pending: Batch,
    /// The fsync in flight: the file length it covers and what waits for it.
    in_flight: Option<(usize, Batch)>,
    /// A failed write is tried again (the journal's retry after a failure), at the next tick.
    retry_due: bool,
    /// The online compaction in flight: its snapshot and the file length when it began.
    compaction: Option<(Vec<u8>, usize)>,
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
        let loaded = disk.load();
        for r in loaded.leases.iter() {
            engine.restore(record::from_record(r));
        }
        let persisted = loaded.failover.get(&cfg.peer.name).map(to_persisted);
        disk.compact(&loaded);
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
            pending: Batch::default(),
            in_flight: None,
            retry_due: false,
            compaction: None,
        };
        n.execute();
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

    /// No change waits for a write to succeed or for an fsync (nothing left to replicate,
    /// reply or offer once it does).
    pub fn writes_settled(&self) -> bool {
        self.unreplicated.is_empty() && self.pending.is_empty() && self.in_flight.is_none() && self.rel.writes_settled()
    }

    /// Begins an online compaction, as the journal thread does when the file has grown: the
    /// snapshot (state records appended so far, the store's leases) is taken now, and records
    /// appended from now on will follow it in the new file. It is put in place between
    /// batches, once nothing waits for an fsync ([`Node::sync_end`], [`Node::tick`]).
    pub fn begin_compaction(&mut self) -> bool {
        if self.compaction.is_some() {
            return false;
        }
        let began = self.disk.len();
        let snapshot = self.disk.compaction_snapshot(&self.engine.store().snapshot(), self.engine.as_ref());
        self.compaction = Some((snapshot, began));
        true
    }

    /// Puts the compaction in flight in place if nothing is queued or being synced (the
    /// runtime installs it right after a successful fsync, with nothing queued).
    fn maybe_install_compaction(&mut self, now: Time) {
        if self.in_flight.is_some() || !self.pending.is_empty() || now.mono_ms < self.writes_fail_until {
            return;
        }
        if let Some((snapshot, began)) = self.compaction.take() {
            self.disk.install_compaction(snapshot, began);
            self.trace.push(Trace::Event(format!("lease file compacted ({} bytes)", self.disk.len())));
        }
    }

    /// Begins an fsync of everything appended so far, if something waits for one and none is
    /// in flight. The caller completes it with [`Node::sync_end`] after whatever delay it
    /// chooses (a disk stall is a long one).
    pub fn sync_start(&mut self) -> bool {
        let retry = self.retry_due && !self.unreplicated.is_empty();
        if self.in_flight.is_some() || (self.pending.is_empty() && !retry) {
            return false;
        }
        self.retry_due = false;
        self.in_flight = Some((self.disk.len(), std::mem::take(&mut self.pending)));
        true
    }

    /// The fsync in flight completes: it succeeds unless writes fail at `now`. On success
    /// what it covers is durable: changes are replicated (those of failed writes first),
    /// replies are released (returned with their tags), persists reported durable. On
    /// failure replies are withheld (clients ask again), changes wait for the next write
    /// that succeeds, persists are reported failed.
    pub fn sync_end(&mut self, now: Time) -> Vec<(u64, Reply)> {
        let Some((cover, batch)) = self.in_flight.take() else { return Vec::new() };
        let ok = now.mono_ms >= self.writes_fail_until;
        let mut released = Vec::new();
        if ok {
            self.disk.sync_to(cover);
            let changes: Vec<Lease> = std::mem::take(&mut self.unreplicated).into_iter().chain(batch.changes).collect();
            for l in changes {
                if self.engine.relationship_of(l.pool).as_deref() == Some(self.cfg.peer.name.as_str()) {
                    self.rel.handle_local_change(now, &l);
                }
            }
            released = batch.replies;
        } else {
            self.unreplicated.extend(batch.changes);
            if !self.unreplicated.is_empty() || !batch.replies.is_empty() {
                self.trace.push(Trace::Event(format!(
                    "lease file write failed: {} leases not durable, {} replies withheld",
                    self.unreplicated.len(),
                    batch.replies.len()
                )));
            }
        }
        for token in batch.tokens {
            self.rel.handle_durable(now, token, ok);
        }
        self.execute();
        if ok {
            self.maybe_install_compaction(now);
        }
        released
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

    /// One DHCP request (UDP payload to port 67), as a DHCP worker handles it: the engine's
    /// decision, made now (the lease bound in the store under its shard lock). A reply that
    /// grants nothing durable goes out at once; otherwise the worker still has to hand the
    /// leases and the reply to the journal, which it does after releasing the lock: the
    /// caller delivers that hand-over with [`Node::commit_dhcp`] whenever it chooses, and
    /// anything may happen in between (the runtime's workers are threads: a partner's update
    /// or another worker's request can change the same lease first).
    pub fn handle_dhcp(&mut self, now: Time, bytes: &[u8], broadcast: bool) -> Handled {
        let meta = RequestMeta { iface_addr: self.cfg.iface_addr, broadcast, tied_iface: None };
        let out = self.engine.handle(now_of(now), &meta, bytes);
        let handled = if out.durable.is_empty() {
            out.reply.map_or(Handled::Nothing, Handled::Reply)
        } else {
            Handled::Commit(Commit { durable: out.durable, reply: out.reply })
        };
        self.execute();
        handled
    }

    /// A worker's hand-over to the journal (`JournalHandle::commit`): the leases are appended
    /// and the reply is held, with `tag`, until the fsync that covers them ([`Node::sync_end`])
    /// releases it.
    pub fn commit_dhcp(&mut self, commit: Commit, tag: u64) {
        self.commit(commit.durable);
        if let Some(r) = commit.reply {
            self.pending.replies.push((tag, r));
        }
        self.execute();
    }

    /// The expiry sweep (the runtime's periodic tick), plus the relationship's tick.
    pub fn tick(&mut self, now: Time) {
        let mut expired = self.engine.expire(now_of(now), usize::MAX);
        // The store's iteration order is a hash order: make it deterministic.
        expired.sort_by_key(|l| u32::from(l.ip));
        self.commit(expired);
        // The journal tries a failed write again on its own (within a second).
        self.retry_due = true;
        self.maybe_install_compaction(now);
        self.rel.handle_tick(now);
        self.execute();
    }

    /// The journal thread's part: append; the changes are replicated once the fsync that
    /// covers them succeeds.
    fn commit(&mut self, leases: Vec<Lease>) {
        for l in &leases {
            self.trace.push(Trace::Local(format!("{} {} ends {} tstp {}", l.ip, l.state.name(), l.ends, l.tstp)));
            self.append(l);
        }
        self.pending.changes.extend(leases);
    }

    /// Appends a change of a lease as the journal thread does: the store's lease as it is
    /// now, whatever value was handed over (`journal::appended`).
    fn append(&mut self, handed: &Lease) {
        self.disk.append_record(&appended(self.engine.as_ref(), handed));
    }

    // ----- failover inputs -----

    pub fn handle_link_up(&mut self, now: Time) {
        self.rel.handle_link_up(now);
        self.execute();
    }

    pub fn handle_link_down(&mut self, now: Time) {
        self.rel.handle_link_down(now);
        self.execute();
    }

    pub fn handle_bytes(&mut self, now: Time, data: &[u8]) {
        self.rel.handle_bytes(now, data);
        self.execute();
    }

    pub fn handle_timeout(&mut self, now: Time) {
        self.rel.handle_timeout(now);
        self.execute();
    }

    pub fn handle_operator(&mut self, now: Time, cmd: Command) {
        self.rel.handle_operator(now, cmd);
        self.execute();
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

    fn execute(&mut self) {
        while let Some(action) = self.rel.poll_action() {
            match action {
                Action::Persist { token, what } => {
                    match what {
                        Persist::State(p) => {
                            self.disk.append_state(&state_record(&self.cfg.peer.name, &p, self.cfg.peer.role))
                        }
                        Persist::Leases(leases) => {
                            for l in &leases {
                                self.append(l);
                            }
                        }
                    }
                    self.pending.tokens.push(token);
                }
                Action::Record(leases) => {
                    for l in &leases {
                        self.append(l);
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
            Note::Received { ip, tstp, status, ends, outcome } => Trace::Received {
                ip,
                tstp,
                status: format!("{status:?} ends {ends}"),
                accepted: outcome.is_ok(),
                why: match outcome {
                    Ok(s) => format!("{} ends {} tstp {}", s.state.name(), s.ends, s.tstp),
                    Err(why) => why,
                },
            },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::{BindingState, ClientKey};

    fn bound(last: u8) -> Lease {
        let mut l = Lease::free(Ipv4Addr::new(198, 18, 0, last), 0);
        l.state = BindingState::Active;
        l.starts = 1_000_000;
        l.ends = 1_000_600;
        l.cltt = l.starts;
        l.client = Some(ClientKey::from_client_id(&[1, 2, 3, last]));
        l
    }

    /// Every cut of an unsynced record, byte by byte: the restart keeps what was synced,
    /// drops the torn record, and the file it goes on appending to parses whole.
    #[test]
    fn a_torn_write_loses_only_the_unsynced_record() {
        let mut whole = Disk::default();
        whole.append_lease(&bound(1));
        whole.sync();
        whole.append_lease(&bound(2));
        let tail = whole.unsynced();
        assert!(tail > 100);
        for keep in 0..tail {
            let mut d = whole.clone();
            d.crash(keep);
            let loaded = d.load();
            let ips: Vec<Ipv4Addr> = loaded.leases.iter().map(|r| r.ip).collect();
            // Only the closing brace makes the record whole (the newline after it may be lost).
            let expected: &[u8] = if keep + 1 >= tail { &[1, 2] } else { &[1] };
            let expected: Vec<Ipv4Addr> = expected.iter().map(|n| Ipv4Addr::new(198, 18, 0, *n)).collect();
            assert_eq!(ips, expected, "cut after {keep} of {tail} bytes");
            // Appending after the cut yields a file whose every record parses.
            d.append_lease(&bound(3));
            d.sync();
            let again = d.leases();
            assert!(
                again.contains_key(&Ipv4Addr::new(198, 18, 0, 1)) && again.contains_key(&Ipv4Addr::new(198, 18, 0, 3))
            );
        }
        let mut d = whole.clone();
        d.crash(tail);
        assert_eq!(d.load().leases.len(), 2, "the whole record kept is loaded");
    }

    mod pipeline {
        use super::super::*;
        use crate::dhcp::Params;
        use crate::lease::{BindingState, ClientKey, HwAddr};
        use dhcp_failover::Role;
        use dhcp_failover::wire::{MessageType, decode};

        const START: u32 = 1_795_610_241;
        const FIRST: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 0);
        const LEASES: u32 = 300;
        const WINDOW: u32 = 100;

        fn config(role: Role) -> NodeConfig {
            let params =
                Params { default_lease_secs: 86_400, max_lease_secs: 86_400, ping_check: false, ..Params::default() };
            let ranges = vec![(FIRST, Ipv4Addr::from(u32::from(FIRST) + LEASES * 2))];
            let engine =
                EngineConfig::single_pool("lan", (Ipv4Addr::new(198, 18, 0, 0), 15), ranges, Some("p"), params);
            let peer = PeerConfig {
                name: "p".into(),
                role,
                mclt: 3600,
                hba: (role == Role::Primary).then_some(dhcp_common::Hba::from_split(128).0),
                max_unacked_updates: WINDOW,
                max_response_delay: 60,
                auto_partner_down_secs: 0,
                load_balance_max_secs: 3,
                vendor: "xdhcpd-test".into(),
            };
            let iface = if role == Role::Primary { Ipv4Addr::new(198, 18, 0, 1) } else { Ipv4Addr::new(198, 18, 0, 2) };
            NodeConfig { engine, peer, iface_addr: iface, max_lease_misbalance: 15, hot_standby_reserve_percent: None }
        }

        /// A primary that was NORMAL with its partner, holding `LEASES` active leases.
        fn primary_disk() -> Disk {
            let mut d = Disk::default();
            d.append_state(&FailoverStateRecord {
                peer: "p".into(),
                my_state: dhcp_common::FailoverState::COMMUNICATIONS_INTERRUPTED,
                my_stos: START - 60,
                partner_state: dhcp_common::FailoverState::NORMAL,
                partner_stos: START - 60,
                mclt: None,
            });
            for i in 0..LEASES {
                let mut l = Lease::free(Ipv4Addr::from(u32::from(FIRST) + i), 0);
                l.state = BindingState::Active;
                l.starts = START - 100;
                l.cltt = l.starts;
                l.ends = START + 86_000;
                l.tstp = l.ends + 43_200;
                let mac = (i + 1).to_be_bytes();
                l.hw = Some(HwAddr::new(1, &[0x02, 0x42, mac[0], mac[1], mac[2], mac[3]]));
                l.client = Some(ClientKey::from_hw(1, &[0x02, 0x42, mac[0], mac[1], mac[2], mac[3]]));
                d.append_lease(&l);
            }
            d.sync();
            d
        }

        fn at(ms: u64) -> Time {
            Time { unix: START + (ms / 1000) as u32, mono_ms: ms }
        }

        /// The messages in `bytes`, with the offset each ends at.
        fn messages(bytes: &[u8]) -> Vec<(MessageType, Option<Ipv4Addr>, usize)> {
            let mut out = Vec::new();
            let mut at = 0;
            while let Ok((m, used)) = decode(bytes.get(at..).unwrap_or(&[])) {
                at += used;
                out.push((m.msg_type, m.assigned_ip, at));
            }
            assert_eq!(at, bytes.len(), "whole messages only");
            out
        }

        /// What the secondary acks is durable in its lease file (a crash now keeps it).
        fn assert_acks_durable(secondary: &Node, acks: &[u8]) {
            let mut disk = secondary.disk().clone();
            disk.crash(0);
            let held = disk.leases();
            for (t, ip, _) in messages(acks) {
                if t == MessageType::BNDACK {
                    let ip = ip.expect("a BNDACK names its address");
                    assert_eq!(held.get(&ip).map(|l| l.state), Some(BindingState::Active), "{ip} acked before durable");
                }
            }
        }

        fn acks(bytes: &[u8]) -> usize {
            messages(bytes).iter().filter(|(t, ..)| *t == MessageType::BNDACK).count()
        }

        /// A secondary that lost its lease file resyncs from the primary. Each window of
        /// BNDUPDs arrives in two reads: the second half is applied and written while the
        /// first half's fsync is in flight (the pipeline); nothing is sent while either is
        /// not durable, then both halves are acked, in order.
        #[test]
        fn the_partners_bindings_are_pipelined_and_acked_once_durable() {
            let mut p = Node::restart(config(Role::Primary), primary_disk(), false, at(0));
            let mut s = Node::restart(config(Role::Secondary), Disk::default(), true, at(0));
            s.handle_link_up(at(0));
            p.handle_link_up(at(0));
            let mut pipelined = 0;
            // Bounded: 300 leases in windows of 100 take a few dozen exchanges.
            for _ in 0..10_000 {
                let mut from_p = Vec::new();
                while p.poll_transmit(&mut from_p) {}
                let msgs = messages(&from_p);
                let updates = msgs.iter().filter(|(t, ..)| *t == MessageType::BNDUPD).count();
                if updates >= 2 {
                    // Split after half of the BNDUPDs.
                    let cut = msgs
                        .iter()
                        .filter(|(t, ..)| *t == MessageType::BNDUPD)
                        .nth(updates / 2 - 1)
                        .map(|m| m.2)
                        .unwrap_or(0);
                    let (first, second) = from_p.split_at(cut);
                    s.handle_bytes(at(0), first);
                    assert!(s.sync_start(), "the first half waits for its fsync");
                    let before = s.disk().len();
                    s.handle_bytes(at(0), second);
                    let mut out = Vec::new();
                    while s.poll_transmit(&mut out) {}
                    assert_eq!(acks(&out), 0, "nothing acked before its fsync");
                    assert!(s.disk().len() > before, "the second half is written behind the first's fsync");
                    s.sync_end(at(0));
                    while s.poll_transmit(&mut out) {}
                    assert_eq!(acks(&out), 0, "nothing goes out while the second half is not durable");
                    assert!(s.sync_start());
                    s.sync_end(at(0));
                    while s.poll_transmit(&mut out) {}
                    assert_acks_durable(&s, &out);
                    assert_eq!(acks(&out), updates, "then both halves, in order");
                    pipelined += 1;
                    p.handle_bytes(at(0), &out);
                } else if !from_p.is_empty() {
                    s.handle_bytes(at(0), &from_p);
                }
                let mut from_s = Vec::new();
                while s.poll_transmit(&mut from_s) {}
                if !from_s.is_empty() {
                    assert_acks_durable(&s, &from_s);
                    p.handle_bytes(at(0), &from_s);
                }
                for n in [&mut p, &mut s] {
                    if n.sync_start() {
                        n.sync_end(at(0));
                    }
                }
                if s.peer().state() != dhcp_failover::State::RECOVER
                    && s.peer().state() != dhcp_failover::State::STARTUP
                {
                    break;
                }
            }
            assert!(pipelined >= 3, "every window went through the pipeline ({pipelined})");
            let mut disk = s.disk().clone();
            disk.crash(0);
            let held = disk.leases().values().filter(|l| l.state == BindingState::Active).count();
            assert_eq!(held, LEASES as usize, "the secondary holds every lease, durably");
        }
    }
}
