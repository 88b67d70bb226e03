//! A deterministic harness: two [`Peer`]s wired back to back with an explicit clock.
//!
//! Each [`Side`] plays the caller of its peer the way a real server would: it persists
//! state records, applies and acks the partner's bindings, answers UPDREQALL/UPDREQ from
//! its own lease table and records every event. The link is perfect while connected (bytes
//! are delivered in order, instantly) and drops everything in flight when cut.
//!
//! Used by this crate's tests and meant for deterministic simulation of whole servers.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::peer::{Event, Peer, PeerConfig, PersistedState, Time};
use crate::state::{Role, State};
use crate::wire::{Binding, IpFlags, Message, decode};
use dhcp_common::BindingState;

/// The configuration the harness uses by default for `role` (relationship "fo-test",
/// MCLT 120, HBA = primary serves buckets 0–127, max-unacked 10, max-response-delay 30).
pub fn test_config(role: Role) -> PeerConfig {
    let mut hba = [0u8; 32];
    for b in hba.iter_mut().take(16) {
        *b = 0xff;
    }
    PeerConfig {
        name: "fo-test".to_owned(),
        role,
        mclt: 120,
        hba: (role == Role::Primary).then_some(hba),
        max_unacked_updates: 10,
        max_response_delay: 30,
        auto_partner_down_secs: 0,
        load_balance_max_secs: 3,
        vendor: "xdhcpd-test".to_owned(),
    }
}

/// A simple ACTIVE binding for tests: `10.0.<n/256>.<n%256>` with the given tstp.
pub fn test_binding(n: u16, tstp: u32) -> Binding {
    let [hi, lo] = n.to_be_bytes();
    Binding {
        ip: Ipv4Addr::new(10, 0, hi, lo),
        status: BindingState::Active.into(),
        client_id: None,
        chaddr: Some(vec![1, 0x52, 0x54, 0, 0, hi, lo]),
        ends: tstp.saturating_sub(60),
        tstp,
        starts: tstp.saturating_sub(120),
        cltt: tstp.saturating_sub(120),
        ip_flags: IpFlags::NONE,
        vendor: None,
    }
}

/// One server: its peer plus the caller-side bookkeeping.
#[derive(Debug)]
pub struct Side {
    /// The state machine.
    pub peer: Peer,
    /// What the lease file says (updated on every persistence event).
    pub persisted: PersistedState,
    /// The leases this side changed itself (latest version per IP).
    pub own: BTreeMap<Ipv4Addr, Binding>,
    /// `atsfp` per IP: the tstp of the last acked BNDUPD.
    pub acked: BTreeMap<Ipv4Addr, u32>,
    /// The partner's bindings, as applied.
    pub received: BTreeMap<Ipv4Addr, Binding>,
    /// BNDUPDs of ours the partner rejected.
    pub rejected: Vec<Ipv4Addr>,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// Ack partner updates at once (default). When false, they pile up in `unacked_received`.
    pub auto_ack: bool,
    /// Partner updates reported and not acked (when `auto_ack` is off).
    pub unacked_received: Vec<Ipv4Addr>,
    /// The state changes in order (from `StateChanged`).
    pub states: Vec<State>,
}

impl Side {
    fn new(peer: Peer) -> Side {
        Side {
            persisted: peer.persisted(),
            peer,
            own: BTreeMap::new(),
            acked: BTreeMap::new(),
            received: BTreeMap::new(),
            rejected: Vec::new(),
            events: Vec::new(),
            auto_ack: true,
            unacked_received: Vec::new(),
            states: Vec::new(),
        }
    }

    /// True when every own lease was acked with its latest tstp.
    pub fn all_acked(&self) -> bool {
        self.own.iter().all(|(ip, b)| self.acked.get(ip) == Some(&b.tstp))
            && self.peer.unacked() == 0
            && self.peer.queued() == 0
    }

    /// The log lines emitted so far.
    pub fn logs(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Log(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Handles the peer's pending events as a server would. Returns (disconnect requested,
    /// anything happened).
    fn process(&mut self, now: Time) -> (bool, bool) {
        let mut disconnect = false;
        let mut any = false;
        while let Some(ev) = self.peer.poll_event() {
            any = true;
            match &ev {
                Event::StateChanged { to, .. } => {
                    self.states.push(*to);
                    self.persisted = self.peer.persisted();
                }
                Event::PartnerStateChanged { .. } | Event::McltChanged(_) | Event::HbaChanged(_) => {
                    self.persisted = self.peer.persisted();
                }
                Event::BindingReceived { binding: b, .. } => {
                    if self.auto_ack {
                        self.received.insert(b.ip, b.clone());
                        // The link may have dropped in between: then there is nothing to ack.
                        let _ = self.peer.ack_binding(now, b.ip, None);
                    } else {
                        self.unacked_received.push(b.ip);
                    }
                }
                Event::BindingAcked { ip, tstp, .. } => {
                    self.acked.insert(*ip, *tstp);
                }
                Event::BindingRejected { ip, .. } => self.rejected.push(*ip),
                Event::SendAll => {
                    for b in self.own.values() {
                        self.peer.handle_lease_update(now, b.clone());
                    }
                    self.peer.updates_done(now);
                }
                Event::SendPending | Event::QueuePending => {
                    for (ip, b) in &self.own {
                        if self.acked.get(ip) != Some(&b.tstp) {
                            self.peer.handle_lease_update(now, b.clone());
                        }
                    }
                    if matches!(ev, Event::SendPending) {
                        self.peer.updates_done(now);
                    } else {
                        self.peer.pending_queued(now);
                    }
                }
                Event::Disconnect { .. } => disconnect = true,
                _ => {}
            }
            self.events.push(ev);
        }
        (disconnect, any)
    }
}

/// Two peers, `a` primary and `b` secondary, and the link between them.
#[derive(Debug)]
pub struct Pair {
    /// The primary.
    pub a: Side,
    /// The secondary.
    pub b: Side,
    /// The shared clock.
    pub now: Time,
    /// Whether the TCP link is up.
    pub connected: bool,
    /// Every message delivered, with its sender's role, in delivery order.
    pub transcript: Vec<(Role, Message)>,
}

/// The Unix time the harness starts at by default (the captures' time).
pub const START_UNIX: u32 = 1_795_610_241;

impl Pair {
    /// Two peers with the given configs and lease-file records.
    pub fn new(
        a_cfg: PeerConfig,
        b_cfg: PeerConfig,
        a_saved: Option<PersistedState>,
        b_saved: Option<PersistedState>,
        now: Time,
    ) -> Pair {
        let mut p = Pair {
            a: Side::new(Peer::new(a_cfg, a_saved, now)),
            b: Side::new(Peer::new(b_cfg, b_saved, now)),
            now,
            connected: false,
            transcript: Vec::new(),
        };
        p.run();
        p
    }

    /// Two fresh peers (no lease file) with [`test_config`].
    pub fn fresh() -> Pair {
        Pair::new(
            test_config(Role::Primary),
            test_config(Role::Secondary),
            None,
            None,
            Time { unix: START_UNIX, mono_ms: 0 },
        )
    }

    /// The side with `role`.
    pub fn side(&mut self, role: Role) -> &mut Side {
        match role {
            Role::Primary => &mut self.a,
            Role::Secondary => &mut self.b,
        }
    }

    /// Establishes the TCP link (both peers see link-up) and runs to quiescence.
    pub fn connect(&mut self) {
        if self.connected {
            return;
        }
        self.connected = true;
        self.a.peer.handle_link_up(self.now);
        self.b.peer.handle_link_up(self.now);
        self.run();
    }

    /// Cuts the TCP link: bytes in flight are lost, both peers see link-down.
    pub fn cut(&mut self) {
        self.connected = false;
        self.a.peer.handle_link_down(self.now);
        self.b.peer.handle_link_down(self.now);
        self.run();
    }

    /// `role` changes a lease: records it and feeds it to its peer.
    pub fn update(&mut self, role: Role, b: Binding) {
        let now = self.now;
        let s = self.side(role);
        s.own.insert(b.ip, b.clone());
        s.peer.handle_lease_update(now, b);
        self.run();
    }

    /// Delivers raw bytes to `role`'s peer, as if its partner had sent them.
    pub fn inject(&mut self, role: Role, bytes: &[u8]) {
        let now = self.now;
        self.side(role).peer.handle_bytes(now, bytes);
        self.run();
    }

    /// Replaces `role`'s peer by a fresh one built from `saved` (a restart); the link drops.
    pub fn restart(&mut self, role: Role, cfg: PeerConfig, saved: Option<PersistedState>) {
        self.cut();
        let now = self.now;
        let s = self.side(role);
        s.peer = Peer::new(cfg, saved, now);
        s.persisted = s.peer.persisted();
        s.acked.clear();
        self.run();
    }

    /// Moves bytes and handles events until nothing happens. Bounded (100 000 rounds).
    pub fn run(&mut self) {
        for _ in 0..100_000 {
            let (da, ea) = self.a.process(self.now);
            let (db, eb) = self.b.process(self.now);
            let mut moved = false;
            if self.connected {
                moved |= self.deliver(Role::Primary);
                moved |= self.deliver(Role::Secondary);
            }
            if da || db {
                // One side asked to close: the other sees what was already written, then EOF.
                self.connected = false;
                self.a.peer.handle_link_down(self.now);
                self.b.peer.handle_link_down(self.now);
                continue;
            }
            if !self.connected {
                let mut sink = Vec::new();
                self.a.peer.poll_transmit(&mut sink);
                self.b.peer.poll_transmit(&mut sink);
            }
            if !(moved || ea || eb) {
                return;
            }
        }
    }

    fn deliver(&mut self, from: Role) -> bool {
        let mut buf = Vec::new();
        let (src, dst) = match from {
            Role::Primary => (&mut self.a, &mut self.b),
            Role::Secondary => (&mut self.b, &mut self.a),
        };
        if !src.peer.poll_transmit(&mut buf) {
            return false;
        }
        let mut rest: &[u8] = &buf;
        while let Ok((m, used)) = decode(rest) {
            self.transcript.push((from, m));
            rest = rest.get(used..).unwrap_or(&[]);
        }
        dst.peer.handle_bytes(self.now, &buf);
        true
    }

    /// Advances the clock by `ms`, firing every timer on the way (in time order).
    pub fn advance(&mut self, ms: u64) {
        let target = self.now.mono_ms.saturating_add(ms);
        loop {
            let next = [self.a.peer.poll_timeout(), self.b.peer.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(t) if t <= target => {
                    if t > self.now.mono_ms {
                        self.now = self.now.after_ms(t - self.now.mono_ms);
                    }
                    self.a.peer.handle_timeout(self.now);
                    self.b.peer.handle_timeout(self.now);
                    self.run();
                }
                _ => break,
            }
        }
        if target > self.now.mono_ms {
            self.now = self.now.after_ms(target - self.now.mono_ms);
        }
        self.run();
    }

    /// Both peers' states.
    pub fn states(&self) -> (State, State) {
        (self.a.peer.state(), self.b.peer.state())
    }
}
