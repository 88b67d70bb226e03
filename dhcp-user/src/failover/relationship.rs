//! One failover relationship, sans-IO: the protocol (`dhcp_failover::Peer`) plus the
//! engine-side rules around it — applying the partner's bindings, acking them, answering
//! update requests, pool balancing, what the engine and the NIC act on. Like quinn's
//! `Connection`, one level up: driven by inputs and an explicit clock, polled for actions.
//!
//! The runtime (`runtime::failover`) executes the actions with TCP/TLS, the journal thread
//! and the XDP maps; the simulator (`failover::node`) executes the same actions with an
//! in-memory lease file. There is no other copy of this glue.
//!
//! **Durability.** A [`Action::Persist`] carries a token. Until the executor reports it with
//! [`Relationship::handle_durable`], the relationship handles no further event of the peer
//! and transmits nothing, so no message, ack or published state gets ahead of the record it
//! depends on. One exception, the partner's bindings: while a batch of them is being
//! written, the next batch (other addresses, crossing no update of ours) is applied and
//! written behind it; the executor may therefore have several of these writes outstanding
//! and reports them in the order asked. The fsync of one batch then overlaps the work of
//! the next (a resync of 100,000 leases spent about half its time waiting for fsyncs with
//! nothing else to do). Nothing is transmitted while any of them is outstanding; then every
//! batch is acked, in the order received. (Letting a durable batch's acks out while a later
//! one was still being written also let out whatever else the peer had queued meanwhile,
//! and the simulation found pairs left disagreeing: 2 of 20,000 seeds.)
//! What a failed write means is decided here, once:
//! - a state record: the relationship holds — no service, nothing sent — and writes it again
//!   at every [`handle_tick`](Relationship::handle_tick) (`StateWrite`);
//! - the partner's bindings: not acked, and the connection closes, so the partner sends them
//!   again after reconnecting (a refusal would be final: the simulation's disk faults showed
//!   pairs left disagreeing);
//! - pool-balancing moves: offered to the partner only once durable; a move whose write
//!   failed is written again at each tick, and then the lease as it is by then is offered.

use super::state_write::StateWrite;
use super::{FailoverView, binding_of};
use crate::dhcp::Engine;
use crate::lease::{BindingState, Lease};
use dhcp_failover::wire::BindingStatus;
use dhcp_failover::{Command, Event, Peer, PeerConfig, PersistedState, State, Time};
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Identifies one [`Action::Persist`] in [`Relationship::handle_durable`].
pub type Token = u64;

/// What to make durable.
#[derive(Debug)]
pub enum Persist {
    /// The relationship's `failover peer "…" state` record.
    State(PersistedState),
    /// Leases changed by the partner's updates or by pool balancing.
    Leases(Vec<Lease>),
}

/// What the executor must do.
#[derive(Debug)]
pub enum Action {
    /// Write and sync, then call `handle_durable(token, ok)`; nothing else of this
    /// relationship happens meanwhile.
    Persist { token: Token, what: Persist },
    /// Append without waiting: the partner's acks of our updates (losing them in a crash only
    /// makes us send the updates again).
    Record(Vec<Lease>),
    /// The engine acts on this view from now on; the NIC (XDP steering) should too.
    Publish(FailoverView),
    /// Close the connection, after writing what `poll_transmit` still returns.
    Close(String),
    /// What happened, for logs, metrics and the simulator's trace.
    Note(Note),
}

/// Observations. Nothing in them needs an answer.
#[derive(Debug)]
pub enum Note {
    /// An event of the peer as it was handled (state changes, its dhcpd-style log lines,
    /// `Connected`, `Fatal`, `BindingRejected`, …); the partner's updates and acks come as
    /// [`Note::Received`] and [`Note::Acked`] instead.
    Peer(Event),
    /// Our ack of the partner's update of `ip` could not be queued.
    AckFailed { ip: Ipv4Addr, error: String },
    /// A partner's update (its `status` and `ends`): applied (`outcome` is the stored
    /// lease) or refused (`outcome` says why). Plain values: the runtime logs only refusals,
    /// and formatting two strings per update was a measurable share of a resync's CPU; the
    /// simulator formats its trace from them.
    Received { ip: Ipv4Addr, tstp: u32, status: BindingStatus, ends: u32, outcome: Result<Stored, String> },
    /// The partner acknowledged our update of `ip` carrying `tstp`.
    Acked { ip: Ipv4Addr, tstp: u32 },
    /// Updates queued for the partner in answer to its request or on entering NORMAL.
    SendingUpdates(usize),
    /// Pool balancing moved these leases to the secondary (not yet durable).
    Balanced(Vec<Lease>),
    /// Pool balancing ran; the pools' counts may have changed.
    PoolsChecked,
    /// Writing the state record succeeded again (`ok`) or failed (the relationship holds).
    StateWrite { ok: bool, state: State },
    /// The partner entered RECOVER: these leases stay bound until what it may have granted
    /// before losing its bindings has ended (`Engine::hold_for_amnesic_partner`).
    Held(Vec<Ipv4Addr>),
}

/// A partner's update as stored here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub state: BindingState,
    pub ends: u32,
    pub tstp: u32,
}

/// The relationship's settings besides the protocol's.
#[derive(Clone, Debug)]
pub struct RelationshipConfig {
    pub peer: PeerConfig,
    /// `max-lease-misbalance` percent (pool balancing).
    pub max_lease_misbalance: u32,
    /// `hot-standby-reserve` percent, if hot standby.
    pub hot_standby_reserve_percent: Option<u8>,
    /// The XDP program enforces the steering (it is attached).
    pub enforce_xdp: bool,
}

/// What the relationship waits for before going on.
#[derive(Debug)]
enum Waiting {
    State,
    /// Pool-balancing moves, offered to the partner once durable.
    Balance {
        moved: Vec<Ipv4Addr>,
    },
}

/// The partner's bindings of one batch, answered once the applied ones are durable, in the
/// order received: `None` an ack, `Some` a refusal. (The peer matches an answer to the
/// oldest outstanding update of its address, so a refusal sent ahead of an earlier update's
/// deferred ack would answer that update instead, and the ack the refused one: simulation
/// seed 11207, where the primary took its own refused release for acked, freed the lease,
/// and the secondary kept it active.) Batches are answered in the order received, each once
/// its own write is durable and every batch before it answered; what that sends goes out
/// when no batch is left outstanding (`poll_transmit`).
#[derive(Debug)]
struct Batch {
    /// The write of the applied bindings; `None` when there was none (refusals only).
    token: Option<Token>,
    durable: bool,
    answers: Vec<(Ipv4Addr, Option<super::Refusal>)>,
}

pub struct Relationship {
    cfg: RelationshipConfig,
    peer: Peer,
    engine: Arc<Engine>,
    partner_has_free: bool,
    state_write: StateWrite,
    waiting: Option<(Token, Waiting)>,
    /// The partner's bindings applied and written, not yet answered, oldest first. While
    /// the oldest is being made durable the next ones may be applied and written (a
    /// pipeline: the fsync of one overlaps the work of the next), under `pipelines`' rule.
    batches: VecDeque<Batch>,
    /// How many answers each address has in `batches`.
    in_batches: HashMap<Ipv4Addr, u32>,
    next_token: Token,
    /// An event taken while batching the partner's bindings, handled next.
    requeue: Option<Event>,
    actions: VecDeque<Action>,
    /// Unix time of the last state change (ours or the partner's).
    last_change: u32,
    /// Pool-balancing moves whose write failed: written again at the next tick.
    unoffered: Vec<Ipv4Addr>,
}

impl Relationship {
    /// Starts the relationship from the state record of the lease file (`None`: no record,
    /// the server starts in RECOVER) and publishes its first view.
    pub fn new(cfg: RelationshipConfig, persisted: Option<PersistedState>, engine: Arc<Engine>, now: Time) -> Self {
        let peer = Peer::new(cfg.peer.clone(), persisted, now);
        let mut r = Relationship {
            cfg,
            peer,
            engine,
            partner_has_free: true,
            state_write: StateWrite::default(),
            waiting: None,
            batches: VecDeque::new(),
            in_batches: HashMap::new(),
            next_token: 0,
            requeue: None,
            actions: VecDeque::new(),
            last_change: now.unix,
            unoffered: Vec::new(),
        };
        r.publish();
        r.process(now);
        r
    }

    pub fn name(&self) -> &str {
        &self.cfg.peer.name
    }

    /// The protocol state, for status and checks.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Whether the current state is durable (if not, the relationship holds).
    pub fn state_written(&self) -> bool {
        !self.state_write.unsaved()
    }

    /// Nothing waits for a write: no persist outstanding, the state written, no pool-balancing
    /// move left to write again.
    pub fn writes_settled(&self) -> bool {
        self.idle() && !self.state_write.unsaved() && self.unoffered.is_empty()
    }

    pub fn last_change(&self) -> u32 {
        self.last_change
    }

    /// What the engine and the NIC act on.
    pub fn view(&self) -> FailoverView {
        self.state_write.view(super::view_of(&self.peer, self.partner_has_free, self.cfg.enforce_xdp))
    }

    // ----- inputs -----

    pub fn handle_link_up(&mut self, now: Time) {
        self.peer.handle_link_up(now);
        self.process(now);
    }

    pub fn handle_link_down(&mut self, now: Time) {
        self.peer.handle_link_down(now);
        self.process(now);
    }

    /// Bytes read from the connection (any split), after the link layer's checks.
    pub fn handle_bytes(&mut self, now: Time, data: &[u8]) {
        self.peer.handle_bytes(now, data);
        self.process(now);
    }

    pub fn handle_timeout(&mut self, now: Time) {
        self.peer.handle_timeout(now);
        self.process(now);
    }

    pub fn handle_operator(&mut self, now: Time, cmd: Command) {
        self.peer.handle_operator(now, cmd);
        self.process(now);
    }

    /// A lease of this relationship changed here and is durable: tell the partner. Unless
    /// the lease has changed again since (see [`superseded`]): then the change sent is the
    /// later one, when it is durable in its turn, or it came from the partner, which knows it.
    pub fn handle_local_change(&mut self, now: Time, lease: &Lease) {
        if self.engine.store().get(lease.ip).is_some_and(|current| superseded(&current, lease)) {
            return;
        }
        self.peer.handle_lease_update(now, binding_of(lease));
        self.process(now);
    }

    /// Evidence that the partner is not answering its clients (XDP counters). Returns true
    /// when it moved the state.
    pub fn handle_partner_unresponsive(&mut self, now: Time) -> bool {
        let moved = self.peer.handle_partner_unresponsive(now);
        self.process(now);
        moved
    }

    /// Periodic work: whether the partner still has free leases; a state record that could
    /// not be written is written again.
    pub fn handle_tick(&mut self, now: Time) {
        self.refresh_partner_free();
        if self.state_write.unsaved() && self.idle() {
            self.persist_state();
        } else if !self.unoffered.is_empty() && self.idle() {
            let moved = std::mem::take(&mut self.unoffered);
            let leases = moved.iter().filter_map(|ip| self.engine.store().get(*ip)).collect();
            self.wait(Waiting::Balance { moved }, Persist::Leases(leases));
        }
        self.process(now);
    }

    /// The outcome of the [`Action::Persist`] with `token`.
    pub fn handle_durable(&mut self, now: Time, token: Token, ok: bool) {
        if let Some(b) = self.batches.iter_mut().find(|b| b.token == Some(token)) {
            if ok {
                b.durable = true;
                self.answer_durable(now);
            } else {
                // Not acked, and the connection closes: the partner requeues what we did not
                // ack and sends it again on the next connection. (A refusal would be final:
                // a sender never repeats a refused update, and the pair would disagree.)
                // Every later batch goes unanswered with it: its answers would be matched to
                // the partner's updates in the wrong order.
                self.batches.clear();
                self.in_batches.clear();
                self.peer.handle_link_down(now);
                self.actions.push_back(Action::Close(
                    "lease file write failed; the partner will send its updates again".into(),
                ));
            }
            self.process(now);
            return;
        }
        let Some((waited, what)) = self.waiting.take() else { return };
        if waited != token {
            self.waiting = Some((waited, what));
            return;
        }
        match what {
            Waiting::State => {
                if self.state_write.written(ok) {
                    self.note(Note::StateWrite { ok, state: self.peer.state() });
                }
                self.publish();
            }
            // The lease as it is now: a partner's update may have changed it meanwhile.
            Waiting::Balance { moved } if ok => {
                for ip in moved {
                    if let Some(l) = self.engine.store().get(ip) {
                        self.peer.handle_lease_update(now, binding_of(&l));
                    }
                }
            }
            Waiting::Balance { moved } => self.unoffered.extend(moved),
        }
        self.process(now);
    }

    /// Moves to SHUTDOWN-style exit (the caller then executes the persist it asks for).
    pub fn prepare_exit(&mut self, now: Time) {
        self.peer.prepare_exit(now);
        self.process(now);
    }

    // ----- outputs -----

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Bytes to write to the connection: none while a write is awaited (the partner's
    /// bindings included) or the state is not durable.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        if self.waiting.is_some() || !self.state_write.may_transmit() {
            return false;
        }
        if !self.batches.is_empty() {
            return false;
        }
        self.peer.poll_transmit(buf)
    }

    /// The peer's next timer deadline (its monotonic milliseconds).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.peer.poll_timeout()
    }

    /// The answer to a second connection while one is up (see `Peer`).
    pub fn duplicate_connection_reply(&self, now: Time, connect: &[u8]) -> Option<Vec<u8>> {
        self.peer.duplicate_connection_reply(now, connect)
    }

    // ----- the glue -----

    fn note(&mut self, n: Note) {
        self.actions.push_back(Action::Note(n));
    }

    fn persist(&mut self, what: Persist) -> Token {
        let token = self.next_token;
        self.next_token += 1;
        self.actions.push_back(Action::Persist { token, what });
        token
    }

    fn wait(&mut self, waiting: Waiting, what: Persist) {
        let token = self.persist(what);
        self.waiting = Some((token, waiting));
    }

    /// No write outstanding.
    fn idle(&self) -> bool {
        self.waiting.is_none() && self.batches.is_empty()
    }

    /// Whether `ev` may be handled while earlier batches of the partner's bindings are still
    /// being written: only another binding of the partner's, of an address none of them
    /// holds, that crosses no update of ours. It is applied and written behind them, and
    /// answered after them. Everything else waits until every batch is answered, as it
    /// waited for the one write before (a state change, an ack of ours, a request).
    fn pipelines(&self, ev: &Event) -> bool {
        matches!(ev, Event::BindingReceived { binding, own_pending } if self.pipelines_binding(binding, own_pending))
    }

    /// Answers the batches at the front whose writes are durable, in order.
    fn answer_durable(&mut self, now: Time) {
        while self.batches.front().is_some_and(|b| b.durable) {
            let Some(b) = self.batches.pop_front() else { break };
            for (ip, refusal) in b.answers {
                if let Some(n) = self.in_batches.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        self.in_batches.remove(&ip);
                    }
                }
                self.answer(now, ip, refusal);
            }
        }
    }

    fn persist_state(&mut self) {
        self.wait(Waiting::State, Persist::State(self.peer.persisted()));
    }

    fn process(&mut self, now: Time) {
        while self.waiting.is_none() {
            let Some(ev) = self.requeue.take().or_else(|| self.peer.poll_event()) else { break };
            if !self.batches.is_empty() && !self.pipelines(&ev) {
                self.requeue = Some(ev);
                break;
            }
            self.handle_event(now, ev);
        }
    }

    fn handle_event(&mut self, now: Time, ev: Event) {
        if !matches!(ev, Event::BindingReceived { .. } | Event::BindingAcked { .. }) {
            self.note(Note::Peer(ev.clone()));
        }
        match ev {
            Event::PartnerStateChanged { to: State::RECOVER, .. } => {
                self.last_change = now.unix;
                // Written ahead of the state record, in the same journal order: durable by
                // the time the state is.
                let held = self.engine.hold_for_amnesic_partner(&self.cfg.peer.name, now.unix, self.peer.mclt());
                if !held.is_empty() {
                    self.note(Note::Held(held.iter().map(|l| l.ip).collect()));
                    self.actions.push_back(Action::Record(held));
                }
                self.persist_state();
            }
            Event::StateChanged { .. } | Event::PartnerStateChanged { .. } => {
                self.last_change = now.unix;
                self.persist_state();
            }
            Event::McltChanged(_) | Event::HbaChanged(_) => self.persist_state(),
            Event::BindingReceived { binding, own_pending } => self.receive_bindings(now, binding, own_pending),
            Event::BindingAcked { ip, tstp, .. } => {
                self.note(Note::Acked { ip, tstp });
                if let Some(l) = self.engine.binding_acked(ip, tstp, self.peer.partner_amnesic()) {
                    self.actions.push_back(Action::Record(vec![l]));
                }
            }
            Event::BindingRejected { .. } | Event::Connected | Event::Fatal(_) | Event::Log(_) => {}
            Event::SendAll | Event::SendPending | Event::QueuePending => {
                let pending_only = !matches!(ev, Event::SendAll);
                let leases = self.engine.relationship_leases(&self.cfg.peer.name, pending_only);
                self.note(Note::SendingUpdates(leases.len()));
                for l in &leases {
                    self.peer.handle_lease_update(now, binding_of(l));
                }
                if matches!(ev, Event::QueuePending) {
                    self.peer.pending_queued(now);
                } else {
                    self.peer.updates_done(now);
                }
            }
            Event::PoolCheck => {
                let moved = self.engine.rebalance(
                    &self.cfg.peer.name,
                    crate::time::Now::at(now.unix),
                    self.cfg.max_lease_misbalance,
                    self.cfg.hot_standby_reserve_percent,
                );
                self.refresh_partner_free();
                self.note(Note::PoolsChecked);
                if !moved.is_empty() {
                    // Offered once durable: the partner may allocate what it receives, and a
                    // crash must not forget that it may.
                    self.note(Note::Balanced(moved.clone()));
                    let ips = moved.iter().map(|l| l.ip).collect();
                    self.wait(Waiting::Balance { moved: ips }, Persist::Leases(moved));
                }
            }
            Event::Disconnect { reason } => self.actions.push_back(Action::Close(format!("{reason:?}"))),
        }
    }

    /// Every update already delivered is applied, made durable with one write, then acked:
    /// a resync of 100,000 leases is bounded by the partner's window, not by one fsync per
    /// lease.
    fn receive_bindings(
        &mut self,
        now: Time,
        first: dhcp_failover::wire::Binding,
        own: Option<dhcp_failover::wire::Binding>,
    ) {
        let mut batch = vec![(first, own)];
        // Behind batches still being written, only what `pipelines` allows joins this one.
        let behind = !self.batches.is_empty();
        while let Some(e) = self.peer.poll_event() {
            match e {
                Event::BindingReceived { binding, own_pending }
                    if !behind || self.pipelines_binding(&binding, &own_pending) =>
                {
                    batch.push((binding, own_pending))
                }
                other => {
                    self.requeue = Some(other);
                    break;
                }
            }
        }
        let mut answers = Vec::new();
        let mut applied = Vec::new();
        let name = self.cfg.peer.name.clone();
        // Addresses whose update of the partner's was applied in this batch: any update of
        // ours it crossed is withdrawn now, so a later update of the same address in the
        // batch meets what is still pending, not what was pending when the bytes were read
        // (simulation seed 11207: the secondary applied the primary's renewal, withdrawing
        // its own, then refused the primary's release in the same read with the withdrawn
        // update, and kept a lease the primary had freed).
        let mut applied_ips = std::collections::HashSet::new();
        for (b, own) in batch {
            let own = if applied_ips.contains(&b.ip) { None } else { own };
            let received =
                super::receive_binding(&self.engine, &mut self.peer, &name, crate::time::Now::at(now.unix), &b, own);
            match received {
                Ok(lease) => {
                    let stored = Stored { state: lease.state, ends: lease.ends, tstp: lease.tstp };
                    self.note(Note::Received {
                        ip: b.ip,
                        tstp: b.tstp,
                        status: b.status,
                        ends: b.ends,
                        outcome: Ok(stored),
                    });
                    applied.push(lease);
                    applied_ips.insert(b.ip);
                    answers.push((b.ip, None));
                }
                Err((reason, msg)) => {
                    let outcome = Err(msg.clone());
                    self.note(Note::Received { ip: b.ip, tstp: b.tstp, status: b.status, ends: b.ends, outcome });
                    answers.push((b.ip, Some((reason, msg))));
                }
            }
        }
        // Refusals only: nothing to make durable first (answered at once unless batches
        // before it are still unanswered).
        let token = (!applied.is_empty()).then(|| self.persist(Persist::Leases(applied)));
        for (ip, _) in &answers {
            *self.in_batches.entry(*ip).or_insert(0) += 1;
        }
        self.batches.push_back(Batch { token, durable: token.is_none(), answers });
        self.answer_durable(now);
    }

    fn pipelines_binding(&self, b: &dhcp_failover::wire::Binding, own: &Option<dhcp_failover::wire::Binding>) -> bool {
        own.is_none() && !self.in_batches.contains_key(&b.ip)
    }

    /// Acks (`None`) or refuses the partner's oldest outstanding update of `ip`; after a
    /// refusal as outdated, sends ours so both sides converge on it.
    fn answer(&mut self, now: Time, ip: Ipv4Addr, refusal: Option<super::Refusal>) {
        let sent = match &refusal {
            None => self.peer.ack_binding(now, ip, None),
            Some((reason, msg)) => self.peer.ack_binding(now, ip, Some((*reason, msg))),
        };
        if let Err(e) = sent {
            self.note(Note::AckFailed { ip, error: e.to_string() });
        }
        if let Some((reason, _)) = refusal {
            super::answer_refusal(&self.engine, &mut self.peer, now, ip, reason);
        }
    }

    fn refresh_partner_free(&mut self) {
        let has = self.engine.partner_has_free(&self.cfg.peer.name, self.cfg.peer.role);
        if has != self.partner_has_free {
            self.partner_has_free = has;
            self.publish();
        }
    }

    /// The engine acts on the new view at once (a partner's update is checked against it);
    /// the executor tells the NIC.
    fn publish(&mut self) {
        let view = self.view();
        self.engine.set_failover(&self.cfg.peer.name, view.clone());
        self.actions.push_back(Action::Publish(view));
    }
}

/// Whether the store's `current` lease is a later binding than `committed`, a change made
/// here and made durable since. A change is sent to the partner once it is durable (after
/// its fsync), and a partner's update applied over the lease in that interval must not be
/// undone on the partner by the older change going out after it (simulation seed 6415: a
/// 20 s disk stall, the primary's expiry of a lease replicated after it had applied the
/// secondary's renewal; the pair ended disagreeing). What the partner's acks change (tsfp,
/// and an ending lease going free) is not a new binding.
fn superseded(current: &Lease, committed: &Lease) -> bool {
    let ending = |s: BindingState| matches!(s, BindingState::Expired | BindingState::Released | BindingState::Reset);
    let state_moved =
        current.state != committed.state && !(current.state == BindingState::Free && ending(committed.state));
    state_moved
        || current.client != committed.client
        || current.starts != committed.starts
        || current.ends != committed.ends
        || current.cltt != committed.cltt
}
