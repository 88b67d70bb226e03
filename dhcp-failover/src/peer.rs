//! The sans-IO failover peer: one failover relationship, one side (quinn-proto style).
//!
//! A [`Peer`] owns no socket and reads no clock. The caller
//!
//! 1. feeds inputs, each with an explicit [`Time`]: [`Peer::handle_link_up`],
//!    [`Peer::handle_link_down`], [`Peer::handle_bytes`], [`Peer::handle_timeout`],
//!    [`Peer::handle_lease_update`], [`Peer::handle_operator`], [`Peer::ack_binding`],
//!    [`Peer::updates_done`];
//! 2. after **every** input, drains the outputs **in this order**:
//!    * [`Peer::poll_event`] until `None`: **persist every [`Event::StateChanged`] /
//!      [`Event::PartnerStateChanged`] / [`Event::McltChanged`] / [`Event::HbaChanged`] to
//!      the lease file (and fsync) before doing anything else**, exactly as dhcpd writes its
//!      `failover peer … state` record before acting on a new state. The peer has already
//!      switched internally, but nothing it produced for the new state (the STATE message,
//!      UPDREQALL, BNDUPDs…) must reach the wire before the record is durable;
//!    * [`Peer::poll_transmit`]: write the bytes to the TCP stream;
//!    * [`Peer::poll_timeout`]: (re)arm one timer; when it fires call
//!      [`Peer::handle_timeout`].
//!
//! # Connection
//!
//! Each side of a dhcpd relationship both listens and connects; the caller picks one TCP
//! connection per relationship and reports it with `handle_link_up`. A primary then sends
//! CONNECT at once; a secondary waits for CONNECT. If the handshake does not complete within
//! 15 s the peer emits [`Event::Disconnect`]. The caller reconnects on its own schedule
//! (dhcpd: about 5 s after a drop, 90 s after a failed `connect()`). A second TCP connection
//! while one is established is answered with [`Peer::duplicate_connection_reply`] and closed.
//!
//! After [`Event::Disconnect`] the peer has already done its link-down processing: the
//! caller writes whatever `poll_transmit` still returns (a DISCONNECT, best effort), then
//! closes the socket. Calling `handle_link_down` afterwards is harmless.
//!
//! # Bindings
//!
//! * **Our updates** ([`Peer::handle_lease_update`]): queued (one entry per IP, newest
//!   wins) and sent as BNDUPD while the link is established, the partner's STATE has been
//!   seen on it and we are out of STARTUP, never more than the partner's max-unacked in
//!   flight. Lazy, as dhcpd: the DHCPACK to the client is not held for the BNDACK (the MCLT
//!   rule protects it). A BNDACK is matched by xid (and IP); it yields
//!   [`Event::BindingAcked`] (set `tsfp = atsfp = tstp`; for EXPIRED/RELEASED/RESET move the
//!   lease to FREE) or [`Event::BindingRejected`]. Un-acked updates go back to the front of
//!   the queue on link loss and on leaving NORMAL, POTENTIAL-CONFLICT or PARTNER-DOWN.
//! * **Partner's updates**: each BNDUPD yields [`Event::BindingReceived`]. The caller checks
//!   it (digest §4.3), writes it to the lease store, commits, and **then** calls
//!   [`Peer::ack_binding`] (with a reject reason to NAK). The peer sends the BNDACK at once:
//!   acks are not batched (dhcpd batches to half the window or 2 s; acking promptly is
//!   allowed by the protocol and keeps the partner's window open). A BNDUPD without
//!   assigned-IP or binding-status is NAKed (reason 3) by the peer itself.
//! * **UPDREQALL / UPDREQ** from the partner yield [`Event::SendAll`] / [`Event::SendPending`]:
//!   the caller feeds every relevant lease through `handle_lease_update`, then calls
//!   [`Peer::updates_done`]; UPDDONE (echoing the request's xid) goes out once the queue and
//!   the window are empty.

mod timers;
mod update_queue;

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use timers::{TimerKind, Timers};
use update_queue::{UpdateQueue, Window, requeue};

use crate::state::{Role, State};
use crate::transitions::{
    MAX_TIME, ServiceLevel, entry_actions, on_link_lost, on_partner_state, on_startup_timeout, on_upddone,
    recover_done_at, service_allowed,
};
use crate::wire::{
    Binding, DecodeError, IpFlags, LinkParams, Message, MessageType, RejectReason, ServerFlags, decode, encode,
};

/// dhcpd's STARTUP timer and connect-wait timer, milliseconds.
pub const STARTUP_MS: u64 = 15_000;
/// How long a new link may take to complete CONNECT/CONNECTACK, milliseconds.
pub const CONNECT_WAIT_MS: u64 = 15_000;
/// Largest clock difference accepted in CONNECT/CONNECTACK, seconds.
pub const MAX_TIME_SKEW: i64 = 60;

/// A point in time: `unix` for wire fields and lease times, `mono_ms` (monotonic, any
/// origin) for timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Time {
    /// Unix seconds.
    pub unix: u32,
    /// Monotonic milliseconds.
    pub mono_ms: u64,
}

impl Time {
    /// The time `ms` milliseconds later (the Unix clock moves along, rounded down).
    pub fn after_ms(self, ms: u64) -> Time {
        let mono_ms = self.mono_ms.saturating_add(ms);
        let secs = (self.mono_ms % 1000 + ms) / 1000;
        Time { unix: self.unix.saturating_add(u32::try_from(secs).unwrap_or(u32::MAX)), mono_ms }
    }
}

/// The configuration of one relationship (dhcpd's `failover peer "name" { … }`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PeerConfig {
    /// The relationship name; both sides must use the same.
    pub name: String,
    /// `primary;` or `secondary;`.
    pub role: Role,
    /// `mclt` seconds (primary; a secondary adopts the primary's from CONNECT).
    pub mclt: u32,
    /// `hba` / `split` (primary only; sent in CONNECT, required by a dhcpd secondary).
    pub hba: Option<[u8; 32]>,
    /// `max-unacked-updates`: how many BNDUPDs we accept in flight (sent to the partner).
    pub max_unacked_updates: u32,
    /// `max-response-delay` seconds: receive timeout, sent as receive-timer.
    pub max_response_delay: u32,
    /// `auto-partner-down` seconds, 0 = off.
    pub auto_partner_down_secs: u32,
    /// `load-balance max seconds` (kept for the caller's load balancing).
    pub load_balance_max_secs: u32,
    /// vendor-class-identifier we send (dhcpd: `isc-4.4.3-P1`).
    pub vendor: String,
}

/// The relationship's record from the lease file (`failover peer "name" state { … }`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PersistedState {
    /// `my state`.
    pub my_state: State,
    /// `my state … at` (STOS), Unix seconds.
    pub my_stos: u32,
    /// `partner state`.
    pub partner_state: State,
    /// `partner state … at`, Unix seconds.
    pub partner_stos: u32,
    /// `mclt`.
    pub mclt: u32,
}

/// An operator command (OMAPI `local-state`, signals).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Command {
    /// Force PARTNER-DOWN (OMAPI `local-state = 4`).
    PartnerDown,
    /// Graceful stop: go to SHUTDOWN (the partner moves to PARTNER-DOWN). Before exiting,
    /// call [`Peer::prepare_exit`].
    Shutdown,
}

/// Why the peer asks the caller to close the TCP connection.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DisconnectReason {
    /// The bytes could not be decoded (dhcpd drops the link on any protocol error).
    Protocol(DecodeError),
    /// The partner sent something the state machine cannot accept.
    BadMessage(String),
    /// We rejected the partner's CONNECT / CONNECTACK.
    Rejected(RejectReason),
    /// The partner rejected our CONNECT (reject-reason in CONNECTACK).
    RejectedByPeer(RejectReason),
    /// The partner sent DISCONNECT.
    PeerDisconnected(Option<RejectReason>),
    /// No CONNECT / CONNECTACK within 15 s.
    ConnectTimeout,
    /// Nothing received within max-response-delay ("timeout waiting for failover peer").
    ReceiveTimeout,
    /// dhcpd would exit here (`log_fatal`): see [`Event::Fatal`].
    Fatal,
    /// [`Peer::prepare_exit`] was called.
    Exiting,
}

/// An output of the peer. See the module docs for the order in which to handle them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// Our state changed. **Persist it ([`Peer::persisted`]) before acting on anything
    /// else** (before writing `poll_transmit`'s bytes). `to == STARTUP` (only at
    /// construction) changes nothing on disk: the record keeps the saved state, which is
    /// what `persisted()` returns.
    /// Entering NORMAL also means: queue every lease with `tstp > atsfp` and the EXPIRED
    /// queue ([`Event::QueuePending`] follows). Entering PARTNER-DOWN: set
    /// `tsfp = stos + mclt` on every lease in the EXPIRED queue.
    StateChanged {
        /// Previous state (STARTUP when leaving startup).
        from: State,
        /// New state.
        to: State,
        /// Start time of the new state, Unix seconds.
        stos: u32,
    },
    /// The partner's state changed (persist as `partner state`).
    PartnerStateChanged {
        /// Previous partner state.
        from: State,
        /// New partner state.
        to: State,
        /// The partner's STOS, Unix seconds.
        stos: u32,
    },
    /// The partner's BNDUPD: check, apply and commit it, then call [`Peer::ack_binding`].
    BindingReceived {
        /// The partner's binding, its times in our clock.
        binding: Binding,
        /// Our own update of the same lease that the partner had not acked when its update
        /// arrived ("dueling updates", digest §2.7): captured at receipt, because an ack
        /// read in the same batch of bytes may clear it before the event is handled. Pass
        /// it through [`Peer::crossing_update`].
        own_pending: Option<Binding>,
    },
    /// Our BNDUPD was acked: set `tsfp = atsfp = tstp`.
    BindingAcked {
        /// The lease.
        ip: Ipv4Addr,
        /// The potential-expiration time that was sent.
        tstp: u32,
        /// The binding status that was sent.
        status: crate::wire::BindingStatus,
    },
    /// Our BNDUPD was NAKed (dhcpd logs it and does not retry).
    BindingRejected {
        /// The lease.
        ip: Ipv4Addr,
        /// reject-reason.
        reason: RejectReason,
        /// message, if any.
        message: String,
    },
    /// The partner sent UPDREQALL: queue **every** lease of the relationship, then call
    /// [`Peer::updates_done`].
    SendAll,
    /// The partner sent UPDREQ: queue leases with `tstp > atsfp` and the EXPIRED queue, then
    /// call [`Peer::updates_done`].
    SendPending,
    /// We entered NORMAL: queue leases with `tstp > atsfp` and the EXPIRED queue (no
    /// `updates_done` needed). The in-memory queue survives link loss, so after a restart
    /// this is what re-sends what the partner never acked. Then call
    /// [`Peer::pending_queued`]: our STATE announcing NORMAL waits for it.
    QueuePending,
    /// Re-check the pool balance (NORMAL with a NORMAL partner, or POOLREQ).
    PoolCheck,
    /// A secondary learned the HBA from CONNECT (persist / apply to load balancing).
    HbaChanged([u8; 32]),
    /// A secondary adopted the primary's MCLT from CONNECT (persist as `mclt`).
    McltChanged(u32),
    /// The link became usable: the partner's first STATE on this link was processed.
    Connected,
    /// Close the TCP connection (after writing `poll_transmit`'s bytes, best effort).
    Disconnect {
        /// Why.
        reason: DisconnectReason,
    },
    /// dhcpd would `log_fatal()` (exit) here. The peer disconnects and stays put.
    Fatal(String),
    /// A dhcpd-style log line.
    Log(String),
}

/// Errors of caller-driven calls.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PeerError {
    /// `ack_binding` for an IP with no un-acked BNDUPD from the partner on this link (the link
    /// dropped since, or it was already acked). Nothing was sent.
    #[error("no pending partner update for {0}")]
    NoPendingUpdate(Ipv4Addr),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Link {
    Down,
    /// TCP up, CONNECT/CONNECTACK not done yet.
    Handshake,
    /// CONNECT/CONNECTACK done.
    Established,
}

/// The partner's clock minus ours. Lease times cross the wire as absolute Unix times of the
/// sender's clock, so a partner whose clock runs 20 s ahead would expire our clients' leases
/// 20 s early, and hand their addresses to others (the simulation showed it with skew and
/// leases shorter than it). The ISC protocol does not correct this; we do, on receipt only,
/// so each server keeps its own clock and a partner that does not correct (dhcpd) sees the
/// protocol unchanged.
///
/// A message's `time - now` is the skew minus its transit time (≥ 0), so the largest recent
/// sample is the best estimate; samples older than [`SKEW_WINDOW_MS`] give way, so that a
/// stepped clock is followed within that window. Whole-second clocks leave ±1 s, well inside
/// the MCLT's margin; with synchronised clocks the estimate is 0 and nothing changes.
#[derive(Debug, Default, Clone, Copy)]
struct SkewEstimate {
    best: Option<(i64, u64)>,
}

/// How long the largest skew sample stays the estimate.
const SKEW_WINDOW_MS: u64 = 60_000;

impl SkewEstimate {
    fn sample(&mut self, secs: i64, mono_ms: u64) {
        let keep = self.best.is_some_and(|(b, at)| b >= secs && mono_ms.saturating_sub(at) < SKEW_WINDOW_MS);
        if !keep {
            self.best = Some((secs, mono_ms));
        }
    }

    fn secs(&self) -> Option<i64> {
        self.best.map(|(b, _)| b)
    }
}

/// A partner-clock time in our clock, given `skew` = partner minus ours. 0 (unset) and the
/// infinite time stay as they are.
fn to_local(t: u32, skew: i64) -> u32 {
    if t == 0 || t >= MAX_TIME {
        return t;
    }
    u32::try_from((i64::from(t) - skew).clamp(1, i64::from(MAX_TIME) - 1)).unwrap_or(t)
}

/// One side of one failover relationship. See the module docs.
#[derive(Debug)]
pub struct Peer {
    cfg: PeerConfig,
    /// Partner clock minus ours (see [`SkewEstimate`]).
    skew: SkewEstimate,
    state: State,
    /// The state before STARTUP (while `state == STARTUP`), else equal to `state`.
    saved: State,
    stos: u32,
    partner_state: State,
    partner_stos: u32,
    mclt: u32,
    hba: Option<[u8; 32]>,
    link: Link,
    /// The partner's STATE was seen on the current link.
    communicating: bool,
    /// We sent UPDREQALL on the current link.
    updreqall_sent: bool,
    /// Our STATE announcing NORMAL waits until every queued update is sent (see `set_state`).
    state_after_updates: bool,
    /// We entered NORMAL and emitted [`Event::QueuePending`]; the caller has not yet queued
    /// those leases ([`Peer::pending_queued`]), so an empty queue does not yet mean that
    /// every update went out.
    pending_unqueued: bool,
    /// Our UPDREQALL on the current link has not been answered by UPDDONE yet.
    updreqall_outstanding: bool,
    next_xid: u32,
    partner_max_unacked: u32,
    partner_receive_timer: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
    events: VecDeque<Event>,
    queue: UpdateQueue,
    window: Window,
    /// Partner BNDUPDs reported and not yet acked: (ip, xid), oldest first.
    to_ack: VecDeque<(Ipv4Addr, u32)>,
    /// An UPDREQ/UPDREQALL being answered: (xid, caller called `updates_done`).
    upd_request: Option<(u32, bool)>,
    timers: Timers,
    /// STOS to use for the next state change (the SHUTDOWN → RECOVER special case).
    stos_override: Option<u32>,
}

impl Peer {
    /// A peer in STARTUP. `persisted` is the lease file's record; `None` (a new
    /// relationship, or a lost lease file) means RECOVER with STOS = now, as dhcpd does.
    pub fn new(cfg: PeerConfig, persisted: Option<PersistedState>, now: Time) -> Peer {
        let (saved, stos, partner_state, partner_stos, mclt) = match persisted {
            Some(p) => {
                // RECOVER-WAIT is "resynchronised, waiting out the MCLT"; after a restart the
                // partner may have bound more in PARTNER-DOWN meanwhile, so resynchronise again
                // from RECOVER, keeping the STOS so the MCLT wait is not restarted. (Serving
                // without it handed an address the partner had just bound to a second client,
                // in the simulation.)
                let my = match p.my_state {
                    State::STARTUP | State::RECOVER_WAIT => State::RECOVER,
                    s if !s.is_known() => State::RECOVER,
                    s => s,
                };
                let mclt = match cfg.role {
                    Role::Secondary if p.mclt != 0 => p.mclt,
                    _ => cfg.mclt,
                };
                (my, p.my_stos, p.partner_state, p.partner_stos, mclt)
            }
            None => (State::RECOVER, now.unix, State::UNKNOWN, 0, cfg.mclt),
        };
        let hba = match cfg.role {
            Role::Primary => cfg.hba,
            Role::Secondary => None,
        };
        let mut p = Peer {
            skew: SkewEstimate::default(),
            state: saved,
            saved,
            stos,
            partner_state,
            partner_stos,
            mclt,
            hba,
            link: Link::Down,
            communicating: false,
            updreqall_sent: false,
            updreqall_outstanding: false,
            next_xid: 0,
            partner_max_unacked: 0,
            partner_receive_timer: 0,
            rx: Vec::new(),
            tx: Vec::new(),
            events: VecDeque::new(),
            queue: UpdateQueue::default(),
            window: Window::default(),
            to_ack: VecDeque::new(),
            upd_request: None,
            state_after_updates: false,
            pending_unqueued: false,
            timers: Timers::default(),
            stos_override: None,
            cfg,
        };
        p.set_state(now, State::STARTUP);
        p
    }

    // ----- accessors -----

    /// The configuration.
    pub fn config(&self) -> &PeerConfig {
        &self.cfg
    }
    /// Our state (STARTUP while starting up).
    pub fn state(&self) -> State {
        self.state
    }
    /// The state STARTUP will return to (equal to [`Peer::state`] outside STARTUP).
    pub fn saved_state(&self) -> State {
        self.saved
    }
    /// The partner's last known state.
    pub fn partner_state(&self) -> State {
        self.partner_state
    }
    /// The partner's last known STOS.
    pub fn partner_stos(&self) -> u32 {
        self.partner_stos
    }
    /// Start time of our state, Unix seconds.
    pub fn stos(&self) -> u32 {
        self.stos
    }
    /// Partner clock minus ours in seconds, estimated from the messages' time fields
    /// (None before any message). CONNECT/CONNECTACK beyond ±60 s are refused; the times in
    /// the partner's BNDUPDs are corrected by it (see [`SkewEstimate`]).
    pub fn skew_secs(&self) -> Option<i64> {
        self.skew.secs()
    }

    /// The partner is in RECOVER: it lost (or never had) its lease file and has not finished
    /// its full resynchronisation, so its acks carry no knowledge. (In RECOVER-WAIT it has:
    /// only the MCLT wait remains.)
    pub fn partner_amnesic(&self) -> bool {
        self.partner_state == State::RECOVER
    }

    /// The MCLT in force (a secondary's is the primary's).
    pub fn mclt(&self) -> u32 {
        self.mclt
    }
    /// The hash bucket assignment (configured on a primary, learned on a secondary).
    pub fn hba(&self) -> Option<[u8; 32]> {
        self.hba
    }
    /// Number of our BNDUPDs in flight.
    pub fn unacked(&self) -> usize {
        self.window.len()
    }
    /// Number of our BNDUPDs queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
    /// Number of partner BNDUPDs reported and not yet acked by the caller.
    pub fn acks_owed(&self) -> usize {
        self.to_ack.len()
    }
    /// True once CONNECT/CONNECTACK completed on the current TCP connection.
    pub fn link_up(&self) -> bool {
        self.link == Link::Established
    }
    /// True when the link is established and the partner's STATE was seen on it.
    pub fn communicating(&self) -> bool {
        self.link == Link::Established && self.communicating
    }
    /// The DHCP service we may give now.
    pub fn service(&self) -> ServiceLevel {
        service_allowed(self.state, self.partner_state)
    }
    /// The record to persist now (what the lease file should say).
    pub fn persisted(&self) -> PersistedState {
        PersistedState {
            my_state: self.saved,
            my_stos: self.stos,
            partner_state: self.partner_state,
            partner_stos: self.partner_stos,
            mclt: self.mclt,
        }
    }

    // ----- outputs -----

    /// Appends the bytes to write on the TCP stream to `buf`; false if there were none.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        buf.append(&mut self.tx);
        true
    }

    /// The next timer deadline on the monotonic clock, if any.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- inputs -----

    /// A TCP connection to the partner is established (either direction). A primary sends
    /// CONNECT at once. Any previous link is dropped first.
    pub fn handle_link_up(&mut self, now: Time) {
        if self.link != Link::Down {
            self.drop_link(now);
        }
        self.tx.clear();
        self.rx.clear();
        self.next_xid = 0;
        self.link = Link::Handshake;
        self.communicating = false;
        self.updreqall_sent = false;
        self.updreqall_outstanding = false;
        self.timers.set(TimerKind::ConnectWait, now.mono_ms.saturating_add(CONNECT_WAIT_MS));
        if self.cfg.role == Role::Primary {
            let xid = self.take_xid();
            let m = Message::connect(now.unix, xid, &self.link_params(), self.mclt, self.hba.as_ref());
            self.send(now, &m);
        }
    }

    /// The TCP connection closed or failed. Idempotent.
    pub fn handle_link_down(&mut self, now: Time) {
        if self.link != Link::Down {
            self.drop_link(now);
        }
        self.tx.clear();
    }

    /// Bytes read from the TCP stream (any split).
    pub fn handle_bytes(&mut self, now: Time, data: &[u8]) {
        if self.link == Link::Down {
            return;
        }
        self.rx.extend_from_slice(data);
        // Decode from an offset and drop the consumed bytes once at the end: draining per
        // message moved the rest of the buffer each time (quadratic in a large read).
        let mut at = 0;
        loop {
            if self.link == Link::Down {
                self.rx.clear();
                return;
            }
            match decode(self.rx.get(at..).unwrap_or(&[])) {
                Ok((msg, used)) => {
                    at += used;
                    self.on_message(now, msg);
                }
                Err(e) if e.is_incomplete() => {
                    self.rx.drain(..at.min(self.rx.len()));
                    return;
                }
                Err(e) => {
                    self.log(format!("failover peer {}: protocol error: {e}", self.cfg.name));
                    if let Some(r) = e.reject_reason() {
                        self.send_disconnect(now, r, &e.to_string());
                    }
                    self.disconnect(now, DisconnectReason::Protocol(e));
                    return;
                }
            }
        }
    }

    /// A timer deadline passed (call with any `now`; expired timers fire, others wait).
    pub fn handle_timeout(&mut self, now: Time) {
        for k in self.timers.expire(now.mono_ms) {
            match k {
                TimerKind::Startup => {
                    if self.state == State::STARTUP {
                        let to = on_startup_timeout(self.saved);
                        self.set_state(now, to);
                    }
                }
                TimerKind::ConnectWait => {
                    if self.link == Link::Handshake {
                        self.log(format!(
                            "failover peer {}: no {} within 15 seconds",
                            self.cfg.name,
                            match self.cfg.role {
                                Role::Primary => "CONNECTACK",
                                Role::Secondary => "CONNECT",
                            }
                        ));
                        self.disconnect(now, DisconnectReason::ConnectTimeout);
                    }
                }
                TimerKind::Contact => {
                    if self.link == Link::Established {
                        let xid = self.take_xid();
                        self.send(now, &Message::contact(now.unix, xid));
                    }
                }
                TimerKind::Receive => {
                    if self.link == Link::Established {
                        self.log(format!("timeout waiting for failover peer {}", self.cfg.name));
                        self.disconnect(now, DisconnectReason::ReceiveTimeout);
                    }
                }
                TimerKind::RecoverDone => {
                    if self.state == State::RECOVER_WAIT {
                        self.set_state(now, State::RECOVER_DONE);
                    }
                }
                TimerKind::AutoPartnerDown => {
                    if self.state == State::COMMUNICATIONS_INTERRUPTED {
                        self.set_state(now, State::PARTNER_DOWN);
                    }
                }
            }
        }
    }

    /// The local server changed a lease of this relationship (bind, renew, release,
    /// expiry, pool balancing, or an answer to [`Event::SendAll`]/[`Event::SendPending`]).
    /// Queued; sent when the link and the window allow.
    pub fn handle_lease_update(&mut self, now: Time, b: Binding) {
        if !self.queue.contains(b.ip) {
            self.window.supersede(b.ip);
        }
        self.queue.push_back(b);
        self.flush_updates(now);
    }

    /// Our own update of `ip` that the partner's update of it crosses (digest §2.7): the
    /// oldest one in flight (superseded or not; not withdrawn), since the partner meets that one first while
    /// its own is un-acked, so both sides decide the same pair. Deciding against a newer one
    /// queued here instead, the partner applied our older in-flight binding while we applied
    /// its update (simulation seed 83109). Else the one queued.
    fn pending_update(&self, ip: Ipv4Addr) -> Option<&Binding> {
        self.window.first(ip).or_else(|| self.queue.get(ip))
    }

    /// Our update that the partner's update of `ip` crosses: the one in flight or queued at
    /// receipt (`own_pending` of [`Event::BindingReceived`], captured then because an ack
    /// read in the same bytes can clear it), else one queued since (e.g. by pool balancing on
    /// the same state change: it would otherwise go out after we applied theirs, and undo it
    /// on the partner). The engine decides the duel; if the partner's wins, call
    /// [`Peer::withdraw_update`] with it.
    pub fn crossing_update(&self, ip: Ipv4Addr, own_pending: Option<Binding>) -> Option<Binding> {
        own_pending.or_else(|| self.pending_update(ip).cloned())
    }

    /// The partner's update won the duel with `own`: drop every update of ours for that
    /// lease (unsent ones are removed; in flight, their acks report nothing and they are never
    /// retransmitted). Each was made before the partner's update was applied over it, and
    /// would undo it on the partner.
    pub fn withdraw_update(&mut self, own: &Binding) {
        self.queue.remove(own.ip);
        self.window.withdraw(own.ip);
    }

    /// The caller has queued everything for the last [`Event::SendAll`] /
    /// [`Event::SendPending`]: UPDDONE goes out once all of it is acked.
    pub fn updates_done(&mut self, now: Time) {
        if let Some((_, done)) = self.upd_request.as_mut() {
            *done = true;
        }
        self.flush_updates(now);
    }

    /// The caller has queued every lease for the last [`Event::QueuePending`]: the STATE
    /// announcing NORMAL goes out once all of it is sent.
    pub fn pending_queued(&mut self, now: Time) {
        self.pending_unqueued = false;
        self.flush_updates(now);
    }

    /// The caller applied and committed the partner's BNDUPD for `ip` (the oldest one
    /// outstanding): send its BNDACK, or a NAK when `reject` is given.
    pub fn ack_binding(
        &mut self,
        now: Time,
        ip: Ipv4Addr,
        reject: Option<(RejectReason, &str)>,
    ) -> Result<(), PeerError> {
        let i = self.to_ack.iter().position(|(a, _)| *a == ip).ok_or(PeerError::NoPendingUpdate(ip))?;
        let (_, xid) = self.to_ack.remove(i).ok_or(PeerError::NoPendingUpdate(ip))?;
        if self.link == Link::Established {
            let m = Message::bndack(now.unix, xid, ip, reject.map(|(r, s)| (r, s.as_bytes())));
            self.send(now, &m);
        }
        Ok(())
    }

    /// An operator command.
    pub fn handle_operator(&mut self, now: Time, cmd: Command) {
        let to = match cmd {
            Command::PartnerDown => State::PARTNER_DOWN,
            Command::Shutdown => State::SHUTDOWN,
        };
        if self.state != to {
            self.set_state(now, to);
        }
    }

    /// Evidence from the data path that the partner is not serving its clients: its
    /// clients' DISCOVERs keep arriving with `secs` above `load balance max seconds`
    /// (counted at the NIC by the XDP program; Kea's unacked-clients rule). With
    /// `auto-partner-down` configured, a server in COMMUNICATIONS-INTERRUPTED then moves to
    /// PARTNER-DOWN now instead of when the auto-partner-down delay ends: the link loss is
    /// the partner's failure, not only the link's. In any other case nothing changes (the
    /// caller may still show the evidence). Returns whether the state changed.
    pub fn handle_partner_unresponsive(&mut self, now: Time) -> bool {
        if self.state != State::COMMUNICATIONS_INTERRUPTED || self.cfg.auto_partner_down_secs == 0 {
            return false;
        }
        self.log(format!(
            "failover peer {}: partner's clients are going unanswered: partner down before the auto-partner-down delay",
            self.cfg.name
        ));
        self.set_state(now, State::PARTNER_DOWN);
        true
    }

    /// Before the process exits (dhcpd: at exit the state becomes RECOVER). Closes the link
    /// first (nothing more is sent; [`Event::Disconnect`] with
    /// [`DisconnectReason::Exiting`]). From SHUTDOWN
    /// with the partner in PARTNER-DOWN and nothing un-sent, STOS is set to `now − MCLT` so
    /// that the MCLT wait is skipped on return. Emits [`Event::StateChanged`] to persist.
    pub fn prepare_exit(&mut self, now: Time) {
        if self.state == State::RECOVER {
            return;
        }
        let special = self.state == State::SHUTDOWN
            && self.partner_state == State::PARTNER_DOWN
            && self.queue.is_empty()
            && self.window.is_empty();
        if self.link != Link::Down {
            self.drop_link(now);
            self.events.push_back(Event::Disconnect { reason: DisconnectReason::Exiting });
        }
        if special {
            self.stos_override = Some(now.unix.saturating_sub(self.mclt));
        }
        self.set_state(now, State::RECOVER);
        self.stos_override = None;
    }

    /// The reply to a CONNECT received on a *second* TCP connection while this peer already
    /// has one: CONNECTACK with reject-reason 7 (then close that connection). `None` if the
    /// bytes do not hold a complete CONNECT.
    pub fn duplicate_connection_reply(&self, now: Time, connect: &[u8]) -> Option<Vec<u8>> {
        let (m, _) = decode(connect).ok()?;
        if m.msg_type != MessageType::CONNECT {
            return None;
        }
        let ack = Message::connectack(
            now.unix,
            &m,
            &self.link_params(),
            Some((RejectReason::DUP_CONNECTION, b"already connected")),
        );
        crate::wire::encode_to_vec(&ack).ok()
    }

    // ----- internals -----

    fn link_params(&self) -> LinkParams {
        LinkParams {
            relationship_name: self.cfg.name.as_bytes().to_vec(),
            max_unacked: self.cfg.max_unacked_updates,
            receive_timer: self.cfg.max_response_delay,
            vendor_class: self.cfg.vendor.as_bytes().to_vec(),
        }
    }

    fn log(&mut self, s: String) {
        self.events.push_back(Event::Log(s));
    }

    fn take_xid(&mut self) -> u32 {
        let x = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1);
        x
    }

    /// An xid for a BNDUPD (never 0).
    fn take_update_xid(&mut self) -> u32 {
        let x = self.take_xid();
        if x == 0 { self.take_xid() } else { x }
    }

    fn contact_interval_ms(&self) -> u64 {
        (u64::from(self.partner_receive_timer) * 1000 / 3).max(1000)
    }

    fn send(&mut self, now: Time, m: &Message) {
        match encode(m, &mut self.tx) {
            Ok(_) => {
                if self.link == Link::Established {
                    let at = now.mono_ms.saturating_add(self.contact_interval_ms());
                    self.timers.set(TimerKind::Contact, at);
                }
            }
            Err(e) => {
                let s = format!("failover peer {}: cannot encode {}: {e}", self.cfg.name, m.msg_type);
                self.log(s);
            }
        }
    }

    fn send_disconnect(&mut self, now: Time, reason: RejectReason, text: &str) {
        let xid = self.take_xid();
        let mut text = text.as_bytes().to_vec();
        text.truncate(200);
        self.send(now, &Message::disconnect(now.unix, xid, reason, &text));
    }

    /// Where dhcpd sends UPDREQ (only to resolve POTENTIAL-CONFLICT) we send UPDREQALL.
    /// UPDREQ asks only for what the partner has not had acked; but a server reaches
    /// POTENTIAL-CONFLICT also from RECOVER (dhcpd's table, partner NORMAL) or after serving
    /// in PARTNER-DOWN from a lost lease file, and then the bindings acked before the loss
    /// never come back: the stores disagree for good (the simulation showed both). A full
    /// exchange costs a resync of the used leases in a rare state; any partner, dhcpd
    /// included, answers UPDREQALL.
    fn send_updreq(&mut self, now: Time) {
        self.send_updreqall(now);
    }

    fn send_updreqall(&mut self, now: Time) {
        // dhcpd's table can ask twice in a row (RECOVER seeing COMMUNICATIONS-INTERRUPTED,
        // then PARTNER-DOWN); the partner would send everything twice (a 100,000-lease resync
        // measured 1.8 s with the repeat). The answer in progress covers both.
        if self.updreqall_outstanding {
            return;
        }
        self.log(format!("failover peer {}: requesting full update from peer", self.cfg.name));
        self.updreqall_sent = true;
        self.updreqall_outstanding = true;
        let xid = self.take_xid();
        self.send(now, &Message::updreqall(now.unix, xid));
    }

    fn send_state(&mut self, now: Time) {
        let (st, flags) = if self.state == State::STARTUP {
            (self.saved, ServerFlags::STARTUP)
        } else {
            (self.state, ServerFlags::NONE)
        };
        let xid = self.take_xid();
        self.send(now, &Message::state(now.unix, xid, st, flags, self.stos));
    }

    /// Ask the caller to close the link, after our own link-down processing.
    fn disconnect(&mut self, now: Time, reason: DisconnectReason) {
        let keep = std::mem::take(&mut self.tx);
        if self.link != Link::Down {
            self.drop_link(now);
        }
        // Only the final DISCONNECT (if any) goes to the dying socket.
        self.tx = keep;
        self.events.push_back(Event::Disconnect { reason });
    }

    /// Link-down processing: re-queue un-acked updates, forget owed acks and requests, apply
    /// the "disconnect" transition if the link had been established.
    fn drop_link(&mut self, now: Time) {
        let was = self.link;
        self.link = Link::Down;
        self.communicating = false;
        self.rx.clear();
        self.tx.clear();
        self.to_ack.clear();
        self.upd_request = None;
        // A new connection announces the state in its handshake.
        self.state_after_updates = false;
        self.pending_unqueued = false;
        for k in [TimerKind::ConnectWait, TimerKind::Contact, TimerKind::Receive] {
            self.timers.stop(k);
        }
        requeue(&mut self.window, &mut self.queue);
        if was == Link::Established {
            self.log(format!("peer {}: disconnected", self.cfg.name));
            let base = if self.state == State::STARTUP { self.saved } else { self.state };
            let to = on_link_lost(base);
            if to != self.state {
                self.set_state(now, to);
            }
        }
    }

    /// Changes our state with dhcpd's entry actions. Emits `StateChanged` first.
    fn set_state(&mut self, now: Time, to: State) {
        let from = self.state;
        if from == to && to != State::STARTUP {
            return;
        }
        let up = self.link == Link::Established;
        let acts = entry_actions(from, to, self.cfg.role, self.partner_state, up);
        // Leaving STARTUP keeps STOS only when it returns to the saved state (nothing really
        // changed). Into another state (an operator's PARTNER-DOWN during STARTUP, or the
        // partner's STATE moving us on), the new state starts now: PARTNER-DOWN's MCLT wait
        // counts from STOS, and a stale one would take the partner's leases at once while the
        // partner may still be serving them (the simulation showed a double binding).
        let reset_stos = acts.reset_stos
            || (from == State::STARTUP && to != self.saved && to != State::RECOVER_WAIT && to != State::STARTUP);
        self.state = to;
        if to != State::STARTUP {
            self.saved = to;
        }
        if let Some(stos) = self.stos_override.take() {
            self.stos = stos;
        } else if reset_stos {
            self.stos = now.unix;
        }
        if from != to {
            self.events.push_back(Event::StateChanged { from, to, stos: self.stos });
            self.log(format!("failover peer {}: I move from {from} to {to}", self.cfg.name));
        }
        // Timers.
        self.timers.stop(TimerKind::AutoPartnerDown);
        if acts.arm_auto_partner_down && self.cfg.auto_partner_down_secs > 0 {
            let at = now.mono_ms.saturating_add(u64::from(self.cfg.auto_partner_down_secs) * 1000);
            self.timers.set(TimerKind::AutoPartnerDown, at);
        }
        self.timers.stop(TimerKind::RecoverDone);
        if acts.arm_recover_done_timer {
            let target = recover_done_at(self.stos, self.mclt);
            let wait_s = u64::from(target.saturating_sub(now.unix));
            self.timers.set(TimerKind::RecoverDone, now.mono_ms.saturating_add(wait_s * 1000));
        }
        if acts.arm_startup_timer {
            self.timers.set(TimerKind::Startup, now.mono_ms.saturating_add(STARTUP_MS));
        } else if from == State::STARTUP {
            self.timers.stop(TimerKind::Startup);
        }
        if acts.requeue_unacked {
            requeue(&mut self.window, &mut self.queue);
        }
        if up {
            if acts.send_state {
                // Entering NORMAL gives the partner its own free leases back. Bindings we made
                // from them (in PARTNER-DOWN) whose updates are still queued behind the
                // partner's window must reach it before that STATE, or it allocates them again
                // (the simulation's RECOVER-DONE -> NORMAL double binding). TCP keeps order, so
                // sending the STATE right after the last queued update is enough.
                // After a restart the queue is empty: what the partner never acked is in the
                // lease store, and the caller queues it on `QueuePending` (below). The STATE
                // then waits for `pending_queued` too (seed 52357: a NORMAL sent ahead of a
                // binding made in PARTNER-DOWN let the partner allocate that address again).
                self.pending_unqueued = to == State::NORMAL && acts.rebalance_and_send_updates;
                self.state_after_updates = to == State::NORMAL && (self.pending_unqueued || !self.queue.is_empty());
                if !self.state_after_updates {
                    self.send_state(now);
                }
            }
            if acts.send_updreqall {
                self.send_updreqall(now);
            }
            if acts.send_updreq {
                self.send_updreq(now);
            }
        }
        if acts.rebalance_and_send_updates {
            self.events.push_back(Event::QueuePending);
            self.events.push_back(Event::PoolCheck);
            if self.partner_state == State::NORMAL {
                self.log(format!("failover peer {}: Both servers normal", self.cfg.name));
            }
        }
        self.flush_updates(now);
    }

    /// Sends queued BNDUPDs within the partner's window; sends UPDDONE when a request is
    /// complete.
    fn flush_updates(&mut self, now: Time) {
        if !(self.link == Link::Established && self.communicating && self.state != State::STARTUP) {
            return;
        }
        let window = usize::try_from(self.partner_max_unacked).unwrap_or(usize::MAX);
        while self.window.len() < window {
            let Some(b) = self.queue.pop_front() else {
                break;
            };
            let xid = self.take_update_xid();
            let m = Message::bndupd(now.unix, xid, &b);
            self.send(now, &m);
            self.window.push(xid, b);
        }
        if self.state_after_updates && !self.pending_unqueued && self.queue.is_empty() {
            self.state_after_updates = false;
            self.send_state(now);
        }
        if let Some((xid, true)) = self.upd_request
            && self.queue.is_empty()
            && self.window.is_empty()
        {
            self.upd_request = None;
            self.send(now, &Message::upddone(now.unix, xid));
        }
    }

    fn bad(&mut self, now: Time, why: String) {
        self.log(format!("failover peer {}: {why}", self.cfg.name));
        self.send_disconnect(now, RejectReason::MISC_REJECT, &why);
        self.disconnect(now, DisconnectReason::BadMessage(why));
    }

    fn on_message(&mut self, now: Time, m: Message) {
        // Every failover message carries the sender's clock.
        self.skew.sample(i64::from(m.time) - i64::from(now.unix), now.mono_ms);
        if self.link == Link::Established {
            let at = now.mono_ms.saturating_add(u64::from(self.cfg.max_response_delay).max(1) * 1000);
            self.timers.set(TimerKind::Receive, at);
        }
        match m.msg_type {
            MessageType::DISCONNECT => {
                let reason = m.reject_reason;
                let text = m.message.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
                self.log(format!(
                    "failover peer {}: peer disconnected: {} {text}",
                    self.cfg.name,
                    reason.map(|r| r.to_string()).unwrap_or_default()
                ));
                self.disconnect(now, DisconnectReason::PeerDisconnected(reason));
            }
            MessageType::CONNECT => self.on_connect(now, &m),
            MessageType::CONNECTACK => self.on_connectack(now, &m),
            _ if self.link != Link::Established => {
                self.bad(now, format!("{} before CONNECT/CONNECTACK", m.msg_type));
            }
            MessageType::STATE => self.on_state(now, &m),
            MessageType::BNDUPD => self.on_bndupd(now, m),
            MessageType::BNDACK => self.on_bndack(now, &m),
            MessageType::UPDREQALL | MessageType::UPDREQ => {
                let all = m.msg_type == MessageType::UPDREQALL;
                self.upd_request = Some((m.xid, false));
                self.events.push_back(if all { Event::SendAll } else { Event::SendPending });
            }
            MessageType::UPDDONE => {
                self.log(format!("failover peer {}: peer update completed.", self.cfg.name));
                self.updreqall_outstanding = false;
                let my = self.state;
                if let Some(to) = on_upddone(my, self.cfg.role, self.partner_state, now.unix, self.stos, self.mclt) {
                    self.set_state(now, to);
                }
            }
            MessageType::POOLREQ => {
                self.events.push_back(Event::PoolCheck);
                self.send(now, &Message::poolresp(now.unix, m.xid, 0));
            }
            MessageType::POOLRESP => {
                self.log(format!(
                    "failover peer {}: peer gave {} leases",
                    self.cfg.name,
                    m.addresses_transferred.unwrap_or(0)
                ));
            }
            MessageType::CONTACT => {}
            other => {
                self.log(format!("failover peer {}: ignoring message type {other}", self.cfg.name));
            }
        }
    }

    fn established(&mut self, now: Time, max_unacked: Option<u32>, receive_timer: Option<u32>) {
        self.link = Link::Established;
        self.communicating = false;
        self.timers.stop(TimerKind::ConnectWait);
        // dhcpd never defaults these; a partner that omits them gets the most cautious value.
        self.partner_max_unacked = max_unacked.unwrap_or(1);
        self.partner_receive_timer = receive_timer.unwrap_or(self.cfg.max_response_delay);
        let at = now.mono_ms.saturating_add(u64::from(self.cfg.max_response_delay).max(1) * 1000);
        self.timers.set(TimerKind::Receive, at);
        self.send_state(now);
    }

    fn time_ok(now: Time, t: u32) -> bool {
        (i64::from(t) - i64::from(now.unix)).abs() <= MAX_TIME_SKEW
    }

    fn on_connect(&mut self, now: Time, m: &Message) {
        let reject = |r: RejectReason, s: &'static str| Some((r, s));
        let why = if self.cfg.role == Role::Primary {
            // Not a dhcpd check (it would accept), but two primaries cannot work.
            reject(RejectReason::INVALID_PARTNER, "both servers are primary")
        } else if m.relationship_name.as_deref() != Some(self.cfg.name.as_bytes()) {
            reject(RejectReason::INVALID_PARTNER, "unknown failover relationship name")
        } else if !Self::time_ok(now, m.time) {
            reject(RejectReason::TIMEMISMATCH, "time offset too large")
        } else if m.hba32().is_none() {
            reject(RejectReason::HBA_CONFLICT, "invalid HBA")
        } else if self.link == Link::Established {
            reject(RejectReason::DUP_CONNECTION, "already connected")
        } else if m.mclt.is_none() {
            reject(RejectReason::INVALID_MCLT, "no MCLT provided")
        } else {
            None
        };
        if let Some((r, s)) = why {
            let ack = Message::connectack(now.unix, m, &self.link_params(), Some((r, s.as_bytes())));
            self.log(format!("failover peer {}: CONNECT rejected: {s}", self.cfg.name));
            self.send(now, &ack);
            self.disconnect(now, DisconnectReason::Rejected(r));
            return;
        }
        if let Some(h) = m.hba32()
            && self.hba != Some(h)
        {
            self.hba = Some(h);
            self.events.push_back(Event::HbaChanged(h));
        }
        if let Some(mclt) = m.mclt
            && mclt != self.mclt
        {
            self.mclt = mclt;
            self.events.push_back(Event::McltChanged(mclt));
        }
        let ack = Message::connectack(now.unix, m, &self.link_params(), None);
        self.send(now, &ack);
        self.established(now, m.max_unacked, m.receive_timer);
    }

    fn on_connectack(&mut self, now: Time, m: &Message) {
        if self.cfg.role != Role::Primary || self.link == Link::Down {
            self.bad(now, "unexpected CONNECTACK".to_owned());
            return;
        }
        if m.relationship_name.as_deref() != Some(self.cfg.name.as_bytes()) {
            self.send_disconnect(now, RejectReason::INVALID_PARTNER, "invalid relationship name");
            self.disconnect(now, DisconnectReason::Rejected(RejectReason::INVALID_PARTNER));
            return;
        }
        if let Some(r) = m.reject_reason {
            let text = m.message.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            self.log(format!("failover peer {}: CONNECT rejected: {r} {text}", self.cfg.name));
            self.disconnect(now, DisconnectReason::RejectedByPeer(r));
            return;
        }
        if self.link == Link::Established {
            self.send_disconnect(now, RejectReason::DUP_CONNECTION, "already connected");
            self.disconnect(now, DisconnectReason::Rejected(RejectReason::DUP_CONNECTION));
            return;
        }
        if !Self::time_ok(now, m.time) {
            self.send_disconnect(now, RejectReason::TIMEMISMATCH, "time offset too large");
            self.disconnect(now, DisconnectReason::Rejected(RejectReason::TIMEMISMATCH));
            return;
        }
        self.established(now, m.max_unacked, m.receive_timer);
    }

    fn on_state(&mut self, now: Time, m: &Message) {
        let Some(new) = m.server_state else {
            self.bad(now, "STATE without server-state".to_owned());
            return;
        };
        let partner_startup = m.server_flags.is_some_and(|f| f.is_startup());
        let in_startup = self.state == State::STARTUP;
        let my = if in_startup { self.saved } else { self.state };
        let old = self.partner_state;
        let was = self.state;
        let t = on_partner_state(my, self.cfg.role, new, old, in_startup, partner_startup);
        let first = !self.communicating;
        self.communicating = true;
        if first {
            self.events.push_back(Event::Connected);
        }
        if !t.skipped {
            let stos = m.start_time_of_state.unwrap_or(self.partner_stos);
            if new != old || stos != self.partner_stos {
                self.partner_state = new;
                self.partner_stos = stos;
                self.events.push_back(Event::PartnerStateChanged { from: old, to: new, stos });
            }
            if new != old {
                self.log(format!("failover peer {}: peer moves from {old} to {new}", self.cfg.name));
            }
        }
        if let Some(l) = t.log {
            self.log(format!("failover peer {}: {l}", self.cfg.name));
        }
        if t.fatal {
            let why = t.log.unwrap_or("fatal state transition").to_owned();
            self.events.push_back(Event::Fatal(why.clone()));
            self.send_disconnect(now, RejectReason::MISC_REJECT, &why);
            self.disconnect(now, DisconnectReason::Fatal);
            return;
        }
        match t.next {
            Some(to) if to != self.state => self.set_state(now, to),
            _ => {}
        }
        if t.send_updreqall || (first && self.state == State::RECOVER && !self.updreqall_sent) {
            // The second case is ours, not dhcpd's table: a RECOVER server whose UPDREQALL
            // died with the previous link asks again, else both sides could wait forever
            // (partner already RECOVER-DONE and skipping our repeated RECOVER STATE).
            self.send_updreqall(now);
        }
        if t.send_updreq {
            self.send_updreq(now);
        }
        if t.pool_check {
            self.events.push_back(Event::PoolCheck);
        }
        // Only when we were NORMAL already: a move into NORMAL on this message has said it
        // (set_state, with the partner's NORMAL recorded above), and dhcpd says it once.
        if !t.skipped && new != old && new == State::NORMAL && was == State::NORMAL && self.state == State::NORMAL {
            self.log(format!("failover peer {}: Both servers normal", self.cfg.name));
        }
        self.flush_updates(now);
    }

    fn on_bndupd(&mut self, now: Time, m: Message) {
        let (Some(ip), Some(status)) = (m.assigned_ip, m.binding_status) else {
            let ip = m.assigned_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
            let ack = Message::bndack(
                now.unix,
                m.xid,
                ip,
                Some((RejectReason::MISSING_BINDINFO, b"missing binding information")),
            );
            self.send(now, &ack);
            return;
        };
        // The times are the partner's clock: the caller gets them in ours.
        let skew = self.skew.secs().unwrap_or(0);
        let b = Binding {
            ip,
            status,
            client_id: m.client_id,
            chaddr: m.chaddr,
            ends: to_local(m.lease_expiration.unwrap_or(0), skew),
            tstp: to_local(m.potential_expiration.unwrap_or(0), skew),
            starts: to_local(m.start_time_of_state.unwrap_or(0), skew),
            cltt: to_local(m.cltt.unwrap_or(0), skew),
            ip_flags: m.ip_flags.unwrap_or(IpFlags::NONE),
            vendor: m.vendor_specific,
        };
        self.to_ack.push_back((ip, m.xid));
        let own_pending = self.pending_update(ip).cloned();
        self.events.push_back(Event::BindingReceived { binding: b, own_pending });
    }

    fn on_bndack(&mut self, now: Time, m: &Message) {
        let ip = m.assigned_ip;
        if ip.is_none() || self.window.ip_of(m.xid) != ip {
            self.log(format!(
                "failover peer {}: BNDACK xid {} for {}: xid mismatch",
                self.cfg.name,
                m.xid,
                ip.map(|i| i.to_string()).unwrap_or_default()
            ));
            return;
        }
        let Some(f) = self.window.take(m.xid) else {
            return;
        };
        if let Some(reason) = m.reject_reason {
            let message = m.message.as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            self.log(format!(
                "failover peer {}: BNDUPD for {} rejected: {reason} {message}",
                self.cfg.name, f.binding.ip
            ));
            if !f.superseded {
                self.events.push_back(Event::BindingRejected { ip: f.binding.ip, reason, message });
            }
        } else if !f.superseded {
            self.events.push_back(Event::BindingAcked {
                ip: f.binding.ip,
                tstp: f.binding.tstp,
                status: f.binding.status,
            });
        }
        self.flush_updates(now);
    }
}
