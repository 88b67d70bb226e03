//! Each row of the digest's §2.1–§2.6 tables.

use dhcp_failover::transitions::{MAX_TIME, entry_actions, on_startup_timeout, recover_done_at};
use dhcp_failover::{
    Role, ServiceLevel, State, lease_time_allowed, on_link_lost, on_partner_state, on_upddone, service_allowed,
    tstp_for,
};

use State as S;

const ALL: [State; 13] = [
    S::UNKNOWN,
    S::STARTUP,
    S::NORMAL,
    S::COMMUNICATIONS_INTERRUPTED,
    S::PARTNER_DOWN,
    S::POTENTIAL_CONFLICT,
    S::RECOVER,
    S::PAUSED,
    S::SHUTDOWN,
    S::RECOVER_DONE,
    S::RESOLUTION_INTERRUPTED,
    S::CONFLICT_DONE,
    S::RECOVER_WAIT,
];

#[test]
fn state_codes_and_names() {
    let table = [
        (0, "unknown-state"),
        (1, "startup"),
        (2, "normal"),
        (3, "communications-interrupted"),
        (4, "partner-down"),
        (5, "potential-conflict"),
        (6, "recover"),
        (7, "paused"),
        (8, "shutdown"),
        (9, "recover-done"),
        (10, "resolution-interrupted"),
        (11, "conflict-done"),
        (254, "recover-wait"),
    ];
    for (code, name) in table {
        let s = State(code);
        assert_eq!(s.to_string(), name);
        assert_eq!(name.parse::<State>().unwrap(), s);
    }
    assert_eq!(S::RECOVER_WAIT.0, 254);
    assert!("bogus".parse::<State>().is_err());
    assert_eq!(State(77).to_string(), "state-77");
    assert!(!State(12).is_known());
}

/// The next state of every (own, partner) pair, not in startup, partner flags clear, partner
/// state changed from unknown-state.
fn next(my: State, p: State) -> Option<State> {
    on_partner_state(my, Role::Primary, p, S::UNKNOWN, false, false).next
}

#[test]
fn link_loss() {
    assert_eq!(on_link_lost(S::NORMAL), S::COMMUNICATIONS_INTERRUPTED);
    assert_eq!(on_link_lost(S::POTENTIAL_CONFLICT), S::RESOLUTION_INTERRUPTED);
    assert_eq!(on_link_lost(S::UNKNOWN), S::RESOLUTION_INTERRUPTED);
    for s in [
        S::CONFLICT_DONE,
        S::COMMUNICATIONS_INTERRUPTED,
        S::PARTNER_DOWN,
        S::PAUSED,
        S::RECOVER,
        S::RECOVER_DONE,
        S::RECOVER_WAIT,
        S::RESOLUTION_INTERRUPTED,
        S::SHUTDOWN,
    ] {
        assert_eq!(on_link_lost(s), s);
    }
    // Startup timeout = disconnect applied to the saved state.
    assert_eq!(on_startup_timeout(S::NORMAL), S::COMMUNICATIONS_INTERRUPTED);
    assert_eq!(on_startup_timeout(S::RECOVER), S::RECOVER);
}

#[test]
fn own_normal() {
    let t = on_partner_state(S::NORMAL, Role::Primary, S::NORMAL, S::RECOVER_DONE, false, false);
    assert!(t.pool_check && t.next.is_none());
    assert_eq!(next(S::NORMAL, S::PARTNER_DOWN), Some(S::POTENTIAL_CONFLICT));
    // In STARTUP (saved normal): partner-down → RECOVER.
    let t = on_partner_state(S::NORMAL, Role::Primary, S::PARTNER_DOWN, S::UNKNOWN, true, false);
    assert_eq!(t.next, Some(S::RECOVER));
    for p in [S::POTENTIAL_CONFLICT, S::RESOLUTION_INTERRUPTED, S::CONFLICT_DONE] {
        let t = on_partner_state(S::NORMAL, Role::Primary, p, S::UNKNOWN, false, false);
        assert_eq!(t.next, Some(S::SHUTDOWN));
        assert!(t.log.is_some());
    }
    // A secondary that entered NORMAL on the primary's UPDDONE and restarted before its
    // STATE went out meets the primary still in CONFLICT-DONE: it stays NORMAL (unlike dhcpd).
    let t = on_partner_state(S::NORMAL, Role::Secondary, S::CONFLICT_DONE, S::UNKNOWN, true, false);
    assert_eq!(t.next, Some(S::NORMAL));
    let t = on_partner_state(S::NORMAL, Role::Secondary, S::CONFLICT_DONE, S::UNKNOWN, false, false);
    assert_eq!(t.next, None);
    assert_eq!(next(S::NORMAL, S::RECOVER), Some(S::PARTNER_DOWN));
    assert_eq!(next(S::NORMAL, S::SHUTDOWN), Some(S::PARTNER_DOWN));
    assert_eq!(next(S::NORMAL, S::PAUSED), Some(S::COMMUNICATIONS_INTERRUPTED));
    for p in [S::RECOVER_WAIT, S::RECOVER_DONE, S::STARTUP, S::COMMUNICATIONS_INTERRUPTED] {
        assert_eq!(next(S::NORMAL, p), None, "{p}");
    }
}

#[test]
fn own_recover() {
    for p in [S::RECOVER, S::PARTNER_DOWN, S::COMMUNICATIONS_INTERRUPTED] {
        let t = on_partner_state(S::RECOVER, Role::Primary, p, S::UNKNOWN, false, false);
        assert!(t.send_updreqall && t.next.is_none(), "{p}");
        // Not while in STARTUP (entering RECOVER sends it instead).
        let t = on_partner_state(S::RECOVER, Role::Primary, p, S::UNKNOWN, true, false);
        assert!(!t.send_updreqall);
        assert_eq!(t.next, Some(S::RECOVER));
        assert!(t.entry.unwrap().send_updreqall);
    }
    for p in [S::POTENTIAL_CONFLICT, S::RESOLUTION_INTERRUPTED, S::CONFLICT_DONE, S::NORMAL] {
        assert_eq!(next(S::RECOVER, p), Some(S::POTENTIAL_CONFLICT), "{p}");
        // Not on the saved state of a partner still in STARTUP (unlike dhcpd): it answers
        // RECOVER with PARTNER-DOWN once started, and conflict resolution would let a server
        // that lost its lease file skip the MCLT wait.
        let t = on_partner_state(S::RECOVER, Role::Secondary, p, S::UNKNOWN, false, true);
        assert_eq!(t.next, None, "{p} with the STARTUP flag");
        let t = on_partner_state(S::RECOVER, Role::Secondary, p, S::UNKNOWN, true, true);
        assert_eq!(t.next, Some(S::RECOVER), "{p} with the STARTUP flag, from our STARTUP");
    }
    assert_eq!(next(S::RECOVER, S::SHUTDOWN), Some(S::PARTNER_DOWN));
    for p in [S::PAUSED, S::RECOVER_DONE, S::RECOVER_WAIT] {
        assert_eq!(next(S::RECOVER, p), None);
    }
}

#[test]
fn own_potential_conflict() {
    let t = on_partner_state(S::POTENTIAL_CONFLICT, Role::Primary, S::NORMAL, S::UNKNOWN, false, false);
    assert_eq!(t.next, Some(S::SHUTDOWN));
    assert!(t.log.unwrap().contains("panic"));
    // conflict-done from potential-conflict: send UPDREQ.
    let t =
        on_partner_state(S::POTENTIAL_CONFLICT, Role::Secondary, S::CONFLICT_DONE, S::POTENTIAL_CONFLICT, false, false);
    assert!(t.send_updreq && t.next.is_none());
    let t = on_partner_state(S::POTENTIAL_CONFLICT, Role::Secondary, S::CONFLICT_DONE, S::NORMAL, false, false);
    assert!(!t.send_updreq && t.log.is_some());
    assert_eq!(next(S::POTENTIAL_CONFLICT, S::RECOVER), Some(S::RECOVER));
    assert_eq!(next(S::POTENTIAL_CONFLICT, S::SHUTDOWN), Some(S::PARTNER_DOWN));
    for p in [
        S::RECOVER_DONE,
        S::RECOVER_WAIT,
        S::POTENTIAL_CONFLICT,
        S::PARTNER_DOWN,
        S::COMMUNICATIONS_INTERRUPTED,
        S::RESOLUTION_INTERRUPTED,
        S::PAUSED,
    ] {
        assert_eq!(next(S::POTENTIAL_CONFLICT, p), None, "{p}");
    }
}

#[test]
fn own_conflict_done() {
    assert_eq!(next(S::CONFLICT_DONE, S::NORMAL), Some(S::NORMAL));
    assert_eq!(next(S::CONFLICT_DONE, S::SHUTDOWN), Some(S::SHUTDOWN));
    for p in [S::POTENTIAL_CONFLICT, S::RESOLUTION_INTERRUPTED] {
        let t = on_partner_state(S::CONFLICT_DONE, Role::Primary, p, S::UNKNOWN, false, false);
        assert!(t.next.is_none() && !t.fatal);
    }
    for p in [S::RECOVER, S::PARTNER_DOWN, S::COMMUNICATIONS_INTERRUPTED, S::CONFLICT_DONE, S::PAUSED] {
        let t = on_partner_state(S::CONFLICT_DONE, Role::Primary, p, S::UNKNOWN, false, false);
        assert!(t.fatal, "{p}");
    }
}

#[test]
fn own_partner_down() {
    for p in [S::RECOVER, S::RECOVER_WAIT] {
        assert_eq!(next(S::PARTNER_DOWN, p), None);
    }
    assert_eq!(next(S::PARTNER_DOWN, S::RECOVER_DONE), Some(S::NORMAL));
    for p in [
        S::NORMAL,
        S::POTENTIAL_CONFLICT,
        S::PARTNER_DOWN,
        S::COMMUNICATIONS_INTERRUPTED,
        S::RESOLUTION_INTERRUPTED,
        S::CONFLICT_DONE,
    ] {
        assert_eq!(next(S::PARTNER_DOWN, p), Some(S::POTENTIAL_CONFLICT), "{p}");
        // Ignored when the partner's STATE has the STARTUP flag.
        let t = on_partner_state(S::PARTNER_DOWN, Role::Primary, p, S::UNKNOWN, false, true);
        assert_eq!(t.next, None);
    }
    for p in [S::SHUTDOWN, S::PAUSED] {
        assert_eq!(next(S::PARTNER_DOWN, p), None);
    }
}

#[test]
fn own_communications_interrupted() {
    let ci = S::COMMUNICATIONS_INTERRUPTED;
    assert_eq!(next(ci, S::PAUSED), None);
    assert_eq!(next(ci, S::RECOVER), Some(S::PARTNER_DOWN));
    for p in [S::NORMAL, ci, S::RECOVER_DONE, S::RECOVER_WAIT] {
        let t = on_partner_state(ci, Role::Primary, p, S::UNKNOWN, false, false);
        assert_eq!(t.next, Some(S::NORMAL), "{p}");
        assert!(t.send_updates);
    }
    for p in [S::POTENTIAL_CONFLICT, S::PARTNER_DOWN, S::RESOLUTION_INTERRUPTED, S::CONFLICT_DONE] {
        assert_eq!(next(ci, p), Some(S::POTENTIAL_CONFLICT), "{p}");
    }
    assert_eq!(next(ci, S::SHUTDOWN), Some(S::PARTNER_DOWN));
}

#[test]
fn own_resolution_interrupted_recover_wait_recover_done_and_idle() {
    let ri = S::RESOLUTION_INTERRUPTED;
    for p in [
        S::NORMAL,
        S::RECOVER,
        S::POTENTIAL_CONFLICT,
        S::PARTNER_DOWN,
        S::COMMUNICATIONS_INTERRUPTED,
        ri,
        S::CONFLICT_DONE,
        S::RECOVER_DONE,
        S::RECOVER_WAIT,
    ] {
        assert_eq!(next(ri, p), Some(S::POTENTIAL_CONFLICT), "{p}");
    }
    assert_eq!(next(ri, S::SHUTDOWN), Some(S::PARTNER_DOWN));
    assert_eq!(next(ri, S::PAUSED), None);

    for p in ALL {
        assert_eq!(next(S::RECOVER_WAIT, p), None);
        for idle in [S::SHUTDOWN, S::PAUSED, S::UNKNOWN] {
            assert_eq!(next(idle, p), None, "{idle} {p}");
        }
    }

    let t = on_partner_state(S::RECOVER_DONE, Role::Primary, S::RECOVER_DONE, S::RECOVER, false, false);
    assert_eq!(t.next, Some(S::NORMAL));
    assert!(t.log.is_some());
    assert_eq!(next(S::RECOVER_DONE, S::NORMAL), Some(S::NORMAL));
    assert_eq!(next(S::RECOVER_DONE, S::SHUTDOWN), Some(S::PARTNER_DOWN));
    assert_eq!(next(S::RECOVER_DONE, S::RECOVER), None);
}

#[test]
fn repeated_partner_state_and_invalid_state() {
    for my in [S::NORMAL, S::POTENTIAL_CONFLICT, S::RECOVER_DONE, S::SHUTDOWN, S::PAUSED, S::RECOVER_WAIT] {
        let t = on_partner_state(my, Role::Primary, S::SHUTDOWN, S::SHUTDOWN, false, false);
        assert!(t.skipped && t.next.is_none(), "{my}");
    }
    // Processed even when repeated in the "disconnected" states.
    let t = on_partner_state(S::COMMUNICATIONS_INTERRUPTED, Role::Primary, S::NORMAL, S::NORMAL, false, false);
    assert_eq!(t.next, Some(S::NORMAL));
    // STARTUP with a repeated partner state: processed from the saved state (no UPDREQALL
    // while in STARTUP; entering RECOVER sends it).
    let t = on_partner_state(S::RECOVER, Role::Primary, S::RECOVER, S::RECOVER, true, false);
    assert_eq!(t.next, Some(S::RECOVER));
    assert!(!t.skipped && !t.send_updreqall);
    // Back from a restart in COMMUNICATIONS-INTERRUPTED, facing the RECOVER-DONE it had already
    // seen: on to NORMAL (skipping it left both waiting for each other).
    let t =
        on_partner_state(S::COMMUNICATIONS_INTERRUPTED, Role::Secondary, S::RECOVER_DONE, S::RECOVER_DONE, true, false);
    assert_eq!(t.next, Some(S::NORMAL));
    // Out-of-range partner state → SHUTDOWN.
    let t = on_partner_state(S::NORMAL, Role::Primary, State(42), S::NORMAL, false, false);
    assert_eq!(t.next, Some(S::SHUTDOWN));
}

#[test]
fn live_sequences() {
    // Both fresh (LIVE): startup(saved recover) sees partner recover → recover, UPDREQALL on
    // entry; after UPDDONE both go recover-done (no MCLT wait since partner is recover).
    let t = on_partner_state(S::RECOVER, Role::Primary, S::RECOVER, S::UNKNOWN, true, true);
    assert_eq!(t.next, Some(S::RECOVER));
    assert!(t.entry.unwrap().send_updreqall && t.entry.unwrap().send_state);
    assert_eq!(on_upddone(S::RECOVER, Role::Primary, S::RECOVER, 1000, 1000, 120), Some(S::RECOVER_DONE));
    let t = on_partner_state(S::RECOVER_DONE, Role::Primary, S::RECOVER_DONE, S::RECOVER, false, false);
    assert_eq!(t.next, Some(S::NORMAL));
    assert!(t.entry.unwrap().rebalance_and_send_updates);

    // Conflict (LIVE, dhcpd secondary): peer claims potential-conflict; dhcpd (recover) →
    // potential-conflict; as secondary it does not send UPDREQ on entry ...
    let t = on_partner_state(S::RECOVER, Role::Secondary, S::POTENTIAL_CONFLICT, S::UNKNOWN, true, false);
    assert_eq!(t.next, Some(S::POTENTIAL_CONFLICT));
    assert!(!t.entry.unwrap().send_updreq);
    // ... a primary would.
    let t = on_partner_state(S::RECOVER, Role::Primary, S::POTENTIAL_CONFLICT, S::UNKNOWN, true, false);
    assert!(t.entry.unwrap().send_updreq);
}

#[test]
fn upddone() {
    let pc = S::POTENTIAL_CONFLICT;
    assert_eq!(on_upddone(pc, Role::Secondary, S::CONFLICT_DONE, 0, 0, 0), Some(S::NORMAL));
    assert_eq!(on_upddone(pc, Role::Primary, pc, 0, 0, 0), Some(S::CONFLICT_DONE));
    assert_eq!(on_upddone(pc, Role::Primary, S::CONFLICT_DONE, 0, 0, 0), None);
    assert_eq!(on_upddone(pc, Role::Secondary, pc, 0, 0, 0), None);
    // RECOVER: wait only if STOS+MCLT is in the future and partner not recover/recover-done.
    assert_eq!(on_upddone(S::RECOVER, Role::Primary, S::PARTNER_DOWN, 1000, 950, 120), Some(S::RECOVER_WAIT));
    assert_eq!(on_upddone(S::RECOVER, Role::Primary, S::PARTNER_DOWN, 1070, 950, 120), Some(S::RECOVER_DONE));
    assert_eq!(on_upddone(S::RECOVER, Role::Primary, S::RECOVER_DONE, 1000, 950, 120), Some(S::RECOVER_DONE));
    assert_eq!(on_upddone(S::RECOVER, Role::Primary, S::PARTNER_DOWN, 1, u32::MAX, u32::MAX), Some(S::RECOVER_WAIT));
    assert_eq!(on_upddone(S::NORMAL, Role::Primary, S::NORMAL, 0, 0, 0), None);
    assert_eq!(recover_done_at(u32::MAX, 5), u32::MAX);
}

#[test]
fn service_levels() {
    for p in [S::NORMAL, S::COMMUNICATIONS_INTERRUPTED, S::RECOVER, S::SHUTDOWN, S::UNKNOWN] {
        assert_eq!(service_allowed(S::NORMAL, p), ServiceLevel::Cooperating);
        assert_eq!(service_allowed(S::COMMUNICATIONS_INTERRUPTED, p), ServiceLevel::NotCooperating);
        assert_eq!(service_allowed(S::PARTNER_DOWN, p), ServiceLevel::PartnerDown);
    }
    for my in [
        S::UNKNOWN,
        S::STARTUP,
        S::POTENTIAL_CONFLICT,
        S::RECOVER,
        S::PAUSED,
        S::SHUTDOWN,
        S::RECOVER_DONE,
        S::RESOLUTION_INTERRUPTED,
        S::CONFLICT_DONE,
        S::RECOVER_WAIT,
    ] {
        assert_eq!(service_allowed(my, S::NORMAL), ServiceLevel::None, "{my}");
    }
    for p in [S::PARTNER_DOWN, S::POTENTIAL_CONFLICT, S::CONFLICT_DONE, S::RESOLUTION_INTERRUPTED] {
        assert_eq!(service_allowed(S::NORMAL, p), ServiceLevel::None);
        assert_eq!(service_allowed(S::PARTNER_DOWN, p), ServiceLevel::None);
    }
}

#[test]
fn mclt_rule() {
    // desired <= MCLT: desired.
    assert_eq!(lease_time_allowed(100, 120, 0, 1000), 100);
    // never acked (tsfp <= now): MCLT. LIVE: first ACK gave 120.
    assert_eq!(lease_time_allowed(600, 120, 0, 1000), 120);
    assert_eq!(lease_time_allowed(600, 120, 1000, 1000), 120);
    // now + desired > tsfp + MCLT: tsfp - now + MCLT.
    assert_eq!(lease_time_allowed(600, 120, 1100, 1000), 220);
    // otherwise desired.
    assert_eq!(lease_time_allowed(600, 120, 1500, 1000), 600);
    assert_eq!(lease_time_allowed(600, 120, 1480, 1000), 600);
    assert_eq!(lease_time_allowed(u32::MAX, 120, u32::MAX, 0), u32::MAX);
    // tstp = now + desired + given/2 (LIVE: potential = now + 660 for 600/120).
    assert_eq!(tstp_for(1000, 600, 120), 1660);
    assert_eq!(tstp_for(1000, u32::MAX, 120), MAX_TIME);
    assert_eq!(tstp_for(0x7fff_fff0, 600, 120), MAX_TIME);
}

#[test]
fn entry_action_rules() {
    let e = entry_actions(S::NORMAL, S::COMMUNICATIONS_INTERRUPTED, Role::Primary, S::UNKNOWN, false);
    assert!(e.requeue_unacked && !e.send_state && e.reset_stos && e.arm_auto_partner_down);
    let e = entry_actions(S::RECOVER, S::RECOVER_WAIT, Role::Primary, S::PARTNER_DOWN, true);
    assert!(!e.reset_stos && e.arm_recover_done_timer && !e.requeue_unacked);
    let e = entry_actions(S::STARTUP, S::RECOVER, Role::Primary, S::RECOVER, true);
    assert!(!e.reset_stos && e.send_updreqall);
    let e = entry_actions(S::RECOVER, S::RECOVER, Role::Primary, S::RECOVER, false);
    assert!(!e.send_updreqall);
    let e = entry_actions(S::COMMUNICATIONS_INTERRUPTED, S::PARTNER_DOWN, Role::Secondary, S::RECOVER, true);
    assert!(e.partner_down_expiry && !e.requeue_unacked);
    let e = entry_actions(S::RECOVER, S::POTENTIAL_CONFLICT, Role::Secondary, S::CONFLICT_DONE, true);
    assert!(e.send_updreq);
}
