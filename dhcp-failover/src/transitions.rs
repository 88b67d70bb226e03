//! dhcpd's failover state-transition rules, as pure functions (digest §2.1–§2.6).
//!
//! Nothing here does I/O or reads a clock: the caller passes `now` and applies the returned
//! decisions (change state, persist it, send messages, arm timers).

use crate::state::{Role, State};

/// The outcome of processing the partner's STATE message.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Transition {
    /// Our new state, `None` = stay. When we are in STARTUP this is always `Some` (dhcpd
    /// leaves STARTUP on the partner's first STATE).
    pub next: Option<State>,
    /// The partner's STATE was a repeat of the state we already knew and dhcpd skipped it
    /// entirely (the partner state is not re-recorded, nothing else happens).
    pub skipped: bool,
    /// Send UPDREQALL (table action; entering RECOVER sends one too, see [`EntryActions`]).
    pub send_updreqall: bool,
    /// Send UPDREQ.
    pub send_updreq: bool,
    /// Send the pending binding updates (COMM-INT → NORMAL).
    pub send_updates: bool,
    /// Re-check the pool balance (NORMAL with a NORMAL partner).
    pub pool_check: bool,
    /// dhcpd would `log_fatal()` (exit) here: CONFLICT-DONE and the partner reports a state
    /// other than normal, shutdown, potential-conflict or resolution-interrupted.
    pub fatal: bool,
    /// What dhcpd logs as an error for this transition, if anything.
    pub log: Option<&'static str>,
    /// What entering `next` requires (computed with the link up); `None` when `next` is.
    pub entry: Option<EntryActions>,
}

/// What dhcpd does on entering a state (`dhcp_failover_set_state`, digest §2.3 "Actions on
/// entering a state", §2.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct EntryActions {
    /// Move all un-acked BNDUPDs back to the send queue (leaving NORMAL, POTENTIAL-CONFLICT
    /// or PARTNER-DOWN).
    pub requeue_unacked: bool,
    /// Announce the new state with a STATE message (when the link is up).
    pub send_state: bool,
    /// Set STOS = now. Not when entering RECOVER-WAIT nor when entering or leaving STARTUP.
    pub reset_stos: bool,
    /// NORMAL: rebalance pools, queue every lease with `tstp > atsfp` or in the EXPIRED
    /// queue, and send the updates.
    pub rebalance_and_send_updates: bool,
    /// POTENTIAL-CONFLICT: send UPDREQ (primary always; secondary only when the partner is
    /// CONFLICT-DONE).
    pub send_updreq: bool,
    /// RECOVER with a link: send UPDREQALL.
    pub send_updreqall: bool,
    /// RECOVER-WAIT: arm a timer for STOS + MCLT, then go to RECOVER-DONE (at once if that
    /// time has passed).
    pub arm_recover_done_timer: bool,
    /// PARTNER-DOWN: every lease in the EXPIRED queue gets `tsfp = STOS + MCLT`;
    /// reschedule the pool timer.
    pub partner_down_expiry: bool,
    /// STARTUP: arm the 15 s startup timer.
    pub arm_startup_timer: bool,
    /// COMMUNICATIONS-INTERRUPTED: arm the auto-partner-down timer if configured.
    pub arm_auto_partner_down: bool,
}

/// The actions of moving from `from` to `to`. `partner` is the partner's current state;
/// `link_up` says whether a failover connection is established.
pub fn entry_actions(from: State, to: State, role: Role, partner: State, link_up: bool) -> EntryActions {
    EntryActions {
        requeue_unacked: matches!(from, State::NORMAL | State::POTENTIAL_CONFLICT | State::PARTNER_DOWN),
        send_state: link_up,
        reset_stos: to != State::RECOVER_WAIT && to != State::STARTUP && from != State::STARTUP,
        rebalance_and_send_updates: to == State::NORMAL,
        send_updreq: to == State::POTENTIAL_CONFLICT && (role == Role::Primary || partner == State::CONFLICT_DONE),
        send_updreqall: to == State::RECOVER && link_up,
        arm_recover_done_timer: to == State::RECOVER_WAIT,
        partner_down_expiry: to == State::PARTNER_DOWN,
        arm_startup_timer: to == State::STARTUP,
        arm_auto_partner_down: to == State::COMMUNICATIONS_INTERRUPTED,
    }
}

/// The state dhcpd enters when the failover link is lost (its "disconnect" transition).
///
/// Pass the **saved** state when we are in STARTUP (dhcpd switches on the saved state; this
/// is also what the 15 s startup timeout does: see [`on_startup_timeout`]).
/// NORMAL → COMMUNICATIONS-INTERRUPTED; POTENTIAL-CONFLICT and unknown-state →
/// RESOLUTION-INTERRUPTED; every other state stays (CONFLICT-DONE stays, with its un-acked
/// updates re-queued by the caller).
pub fn on_link_lost(my: State) -> State {
    match my {
        State::NORMAL => State::COMMUNICATIONS_INTERRUPTED,
        State::POTENTIAL_CONFLICT | State::UNKNOWN => State::RESOLUTION_INTERRUPTED,
        other => other,
    }
}

/// The state dhcpd enters when its 15 s STARTUP timer fires without the partner's STATE:
/// the disconnect transition applied to the saved state.
pub fn on_startup_timeout(saved: State) -> State {
    on_link_lost(saved)
}

fn is_known_state(s: State) -> bool {
    s.is_known()
}

/// Processing of the partner's STATE message (dhcpd `dhcp_failover_peer_state_changed`).
///
/// * `my`: our state — the **saved** state when `i_am_in_startup` (dhcpd's table switches on
///   the saved state while in STARTUP).
/// * `partner_new`: server-state of the message; `partner_old`: the partner state we knew
///   (unknown-state before the first STATE).
/// * `partner_startup`: the message's server-flags STARTUP bit.
pub fn on_partner_state(
    my: State,
    role: Role,
    partner_new: State,
    partner_old: State,
    i_am_in_startup: bool,
    partner_startup: bool,
) -> Transition {
    let mut t = Transition::default();
    let actual = if i_am_in_startup { State::STARTUP } else { my };

    // A repeated partner state: skipped in the "connected" states. Not when it ends our
    // STARTUP: the partner sends its STATE only on a change, so a skipped one can leave both
    // waiting for each other for good (the simulation found COMMUNICATIONS-INTERRUPTED facing
    // RECOVER-DONE, link up, forever); from STARTUP it is processed from the saved state.
    let connected_state = matches!(
        my,
        State::NORMAL
            | State::POTENTIAL_CONFLICT
            | State::RECOVER_DONE
            | State::SHUTDOWN
            | State::PAUSED
            | State::RECOVER_WAIT
    ) || !is_known_state(my);
    if partner_new == partner_old && actual != State::UNKNOWN && !i_am_in_startup && connected_state {
        t.skipped = true;
        return t;
    }

    if !is_known_state(partner_new) {
        t.next = Some(State::SHUTDOWN);
        t.log = Some("invalid state received from peer");
        return finish(t, actual, role, partner_new);
    }

    let p = partner_new;
    match my {
        State::NORMAL => match p {
            State::NORMAL => t.pool_check = true,
            State::PARTNER_DOWN => {
                t.next = Some(if i_am_in_startup { State::RECOVER } else { State::POTENTIAL_CONFLICT })
            }
            // A secondary enters NORMAL on the primary's UPDDONE while the primary waits in
            // CONFLICT-DONE for our STATE: the pair's ordinary end of conflict resolution.
            // Met again after our restart (partner state unknown), dhcpd calls it invalid and
            // shuts down, and the pair stays SHUTDOWN / PARTNER-DOWN until an operator acts
            // (simulation seeds 26408, 52661: a crash right after entering NORMAL). Our STATE
            // NORMAL moves the primary on.
            State::CONFLICT_DONE if role == Role::Secondary => {}
            State::POTENTIAL_CONFLICT | State::RESOLUTION_INTERRUPTED | State::CONFLICT_DONE => {
                t.log = Some("invalid state transition by peer");
                t.next = Some(State::SHUTDOWN);
            }
            State::RECOVER | State::SHUTDOWN => t.next = Some(State::PARTNER_DOWN),
            State::PAUSED => t.next = Some(State::COMMUNICATIONS_INTERRUPTED),
            _ => {}
        },
        State::RECOVER => match p {
            State::RECOVER | State::PARTNER_DOWN | State::COMMUNICATIONS_INTERRUPTED => {
                t.send_updreqall = !i_am_in_startup;
            }
            // A partner still in STARTUP announces its saved state, not a decision: it
            // answers our RECOVER with PARTNER-DOWN as soon as it leaves STARTUP. dhcpd goes
            // to POTENTIAL-CONFLICT here, and a server without its lease file then reaches
            // NORMAL through conflict resolution, skipping the MCLT wait that protects the
            // leases it granted before the loss (simulation seed 67110: an address handed to
            // a second client while the first still held it). We wait for the real state.
            State::POTENTIAL_CONFLICT | State::RESOLUTION_INTERRUPTED | State::CONFLICT_DONE | State::NORMAL
                if partner_startup => {}
            State::POTENTIAL_CONFLICT | State::RESOLUTION_INTERRUPTED | State::CONFLICT_DONE | State::NORMAL => {
                t.next = Some(State::POTENTIAL_CONFLICT)
            }
            State::SHUTDOWN => t.next = Some(State::PARTNER_DOWN),
            _ => {}
        },
        State::POTENTIAL_CONFLICT => match p {
            State::NORMAL => {
                t.log = Some("peer moves to normal during conflict resolution - panic, shutting down");
                t.next = Some(State::SHUTDOWN);
            }
            State::CONFLICT_DONE => {
                if partner_old == State::POTENTIAL_CONFLICT {
                    t.send_updreq = true;
                } else {
                    t.log = Some("unexpected move to conflict-done");
                }
            }
            State::RECOVER => t.next = Some(State::RECOVER),
            State::SHUTDOWN => t.next = Some(State::PARTNER_DOWN),
            _ => {}
        },
        State::CONFLICT_DONE => match p {
            State::NORMAL | State::SHUTDOWN => t.next = Some(p),
            State::POTENTIAL_CONFLICT | State::RESOLUTION_INTERRUPTED => {}
            _ => {
                t.fatal = true;
                t.log = Some("invalid attempt to move while local state is conflict-done");
            }
        },
        // Ignored while the partner's STATE carries the STARTUP flag.
        State::PARTNER_DOWN if !partner_startup => match p {
            State::RECOVER_DONE => t.next = Some(State::NORMAL),
            State::NORMAL
            | State::POTENTIAL_CONFLICT
            | State::PARTNER_DOWN
            | State::COMMUNICATIONS_INTERRUPTED
            | State::RESOLUTION_INTERRUPTED
            | State::CONFLICT_DONE => t.next = Some(State::POTENTIAL_CONFLICT),
            _ => {}
        },
        State::COMMUNICATIONS_INTERRUPTED => match p {
            State::RECOVER | State::SHUTDOWN => t.next = Some(State::PARTNER_DOWN),
            State::NORMAL | State::COMMUNICATIONS_INTERRUPTED | State::RECOVER_DONE | State::RECOVER_WAIT => {
                t.send_updates = true;
                t.next = Some(State::NORMAL);
            }
            State::POTENTIAL_CONFLICT | State::PARTNER_DOWN | State::RESOLUTION_INTERRUPTED | State::CONFLICT_DONE => {
                t.next = Some(State::POTENTIAL_CONFLICT)
            }
            _ => {}
        },
        State::RESOLUTION_INTERRUPTED => match p {
            State::SHUTDOWN => t.next = Some(State::PARTNER_DOWN),
            State::NORMAL
            | State::RECOVER
            | State::POTENTIAL_CONFLICT
            | State::PARTNER_DOWN
            | State::COMMUNICATIONS_INTERRUPTED
            | State::RESOLUTION_INTERRUPTED
            | State::CONFLICT_DONE
            | State::RECOVER_DONE
            | State::RECOVER_WAIT => t.next = Some(State::POTENTIAL_CONFLICT),
            _ => {}
        },
        State::RECOVER_DONE => match p {
            State::RECOVER_DONE => {
                t.log = Some("both servers have entered recover-done");
                t.next = Some(State::NORMAL);
            }
            State::NORMAL => t.next = Some(State::NORMAL),
            State::SHUTDOWN => t.next = Some(State::PARTNER_DOWN),
            _ => {}
        },
        // RECOVER-WAIT waits on its timer; SHUTDOWN, PAUSED and unknown-state do nothing.
        _ => {}
    }

    // Still in STARTUP after the table: leave it for the saved state.
    if i_am_in_startup && t.next.is_none() && my != State::STARTUP {
        t.next = Some(my);
    }
    finish(t, actual, role, partner_new)
}

fn finish(mut t: Transition, from: State, role: Role, partner: State) -> Transition {
    t.entry = t.next.map(|to| entry_actions(from, to, role, partner, true));
    t
}

/// Our new state on receiving UPDDONE (dhcpd `dhcp_failover_process_update_done`).
///
/// * POTENTIAL-CONFLICT: secondary with partner CONFLICT-DONE → NORMAL; primary with
///   partner not CONFLICT-DONE → CONFLICT-DONE.
/// * RECOVER: → RECOVER-WAIT if `stos + mclt > now` and the partner is neither RECOVER nor
///   RECOVER-DONE; otherwise → RECOVER-DONE at once (so two fresh servers skip the MCLT wait).
/// * Anything else: no change.
pub fn on_upddone(my: State, role: Role, partner: State, now: u32, stos: u32, mclt: u32) -> Option<State> {
    match my {
        State::POTENTIAL_CONFLICT => match (role, partner == State::CONFLICT_DONE) {
            (Role::Secondary, true) => Some(State::NORMAL),
            (Role::Primary, false) => Some(State::CONFLICT_DONE),
            _ => None,
        },
        State::RECOVER => {
            let wait_until = u64::from(stos) + u64::from(mclt);
            if wait_until > u64::from(now) && partner != State::RECOVER && partner != State::RECOVER_DONE {
                Some(State::RECOVER_WAIT)
            } else {
                Some(State::RECOVER_DONE)
            }
        }
        _ => None,
    }
}

/// When a RECOVER-WAIT server moves to RECOVER-DONE: at `stos + mclt` (saturating).
pub fn recover_done_at(stos: u32, mclt: u32) -> u32 {
    stos.saturating_add(mclt)
}

/// What DHCP service a server may give (dhcpd `service_state`, digest §2.1, §2.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ServiceLevel {
    /// No DHCP service on failover pools (STARTUP and every `not_responding` state).
    None,
    /// NORMAL: serve own free leases, load-balance DISCOVERs.
    Cooperating,
    /// COMMUNICATIONS-INTERRUPTED: serve own free leases, no load balancing.
    NotCooperating,
    /// PARTNER-DOWN: may also take the partner's free leases after the MCLT wait.
    PartnerDown,
}

/// The service we may give in state `my` with the partner in `partner`. Even a serving state
/// gives no service while the partner is in partner-down, potential-conflict, conflict-done
/// or resolution-interrupted.
pub fn service_allowed(my: State, partner: State) -> ServiceLevel {
    let own = match my {
        State::NORMAL => ServiceLevel::Cooperating,
        State::COMMUNICATIONS_INTERRUPTED => ServiceLevel::NotCooperating,
        State::PARTNER_DOWN => ServiceLevel::PartnerDown,
        _ => ServiceLevel::None,
    };
    let partner_blocks = matches!(
        partner,
        State::PARTNER_DOWN | State::POTENTIAL_CONFLICT | State::CONFLICT_DONE | State::RESOLUTION_INTERRUPTED
    );
    if partner_blocks { ServiceLevel::None } else { own }
}

/// dhcpd's `MAX_TIME` (lease "never" ends).
pub const MAX_TIME: u32 = 0x7fff_ffff;
/// The lease time that means "infinite".
pub const INFINITE_LEASE: u32 = 0xffff_ffff;

/// The lease time we may give a client (digest §2.6, dhcpd `DH 2887-2945`).
///
/// `desired` is the configured lease time, `tsfp` the time the partner was last told the
/// lease may run until. desired ≤ MCLT → desired; `tsfp ≤ now` → MCLT; `now + desired >
/// tsfp + MCLT` → `tsfp − now + MCLT`; else desired.
pub fn lease_time_allowed(desired: u32, mclt: u32, tsfp: u32, now: u32) -> u32 {
    if desired <= mclt {
        return desired;
    }
    if tsfp <= now {
        return mclt;
    }
    let (desired64, mclt64, tsfp64, now64) = (u64::from(desired), u64::from(mclt), u64::from(tsfp), u64::from(now));
    if now64 + desired64 > tsfp64 + mclt64 {
        // tsfp > now here, so this is positive and below desired.
        u32::try_from(tsfp64 - now64 + mclt64).unwrap_or(desired)
    } else {
        desired
    }
}

/// The potential-expiration time (`tstp`) to advertise on DHCPACK: `now + desired + given/2`,
/// capped at [`MAX_TIME`]; an infinite `desired` gives `MAX_TIME`. If the result is below
/// the lease's current tsfp, the caller lowers tsfp to it.
pub fn tstp_for(now: u32, desired: u32, given: u32) -> u32 {
    if desired == INFINITE_LEASE {
        return MAX_TIME;
    }
    let t = u64::from(now) + u64::from(desired) + u64::from(given / 2);
    u32::try_from(t.min(u64::from(MAX_TIME))).unwrap_or(MAX_TIME)
}
