//! The load-balancing decision: does this server answer this request?
//!
//! This is the only place the rule lives. The XDP program calls [`decide`] to drop DISCOVERs
//! the partner owns before they reach the stack; the userspace server calls it on the same
//! [`RequestView`] when XDP is off; the tests and the simulator call it to predict both.
//!
//! The rule follows ISC dhcpd 4.4 (`load_balance_mine`, RFC 3074):
//! - only DHCPDISCOVER and dynamic BOOTREQUEST are balanced, and only in NORMAL state;
//! - bucket `h` belongs to the primary iff bit `h` of the HBA is set (LSB-first);
//! - a client the partner owns is answered anyway when `load balance max seconds` is 0
//!   (balancing off, dhcpd's default), when its `secs` exceeds that limit (the partner is not
//!   answering it), or when the partner has no free leases to give.

use crate::frame::{MsgKind, RequestView};
use crate::hba::Hba;
use crate::state::{FailoverState, Role};

/// What userspace tells the decision (and the XDP program, through a map).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steering {
    /// Hash bucket assignment; set bit = primary serves the bucket.
    pub hba: Hba,
    /// `load balance max seconds`; 0 turns balancing off (dhcpd's default).
    pub lb_max_secs: u16,
    /// [`Role::code`] (0 primary, 1 secondary).
    pub role: u8,
    /// My failover state ([`FailoverState`]'s wire code).
    pub state: u8,
    /// 0 until an HBA is known (a secondary learns it from CONNECT): then no bucket is mine.
    pub has_hba: u8,
    /// 0 when the partner holds no free leases: its clients are answered here instead.
    pub partner_has_free: u8,
    /// XDP only: 0 means the program classifies and counts but never drops.
    pub enforce: u8,
    pub _pad: u8,
}

impl Steering {
    /// No failover relationship: answer everything, drop nothing.
    pub const STANDALONE: Steering = Steering {
        hba: Hba::ALL_PRIMARY,
        lb_max_secs: 0,
        role: Role::Primary.code(),
        state: FailoverState::PARTNER_DOWN.get(),
        has_hba: 1,
        partner_has_free: 0,
        enforce: 0,
        _pad: 0,
    };

    pub fn role(&self) -> Role {
        if self.role == Role::Secondary.code() { Role::Secondary } else { Role::Primary }
    }
}

/// The outcome for one request. `Drop` is the only one that means "stay silent".
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a DISCOVER/BOOTREQUEST: never balanced (REQUEST, RELEASE, INFORM, ...).
    AnswerNotBalancedKind = 0,
    /// Balancing applies only in NORMAL; in other states the server's state rules decide.
    AnswerNotBalancedState = 1,
    /// The client's bucket is mine.
    AnswerOwnBucket = 2,
    /// Partner's bucket but `load balance max seconds` is 0.
    AnswerBalancingOff = 3,
    /// Partner's bucket, but the client has waited longer than the limit: the partner is
    /// not answering it. Counted as evidence for automatic partner-down.
    AnswerPartnerLate = 4,
    /// Partner's bucket, but the partner has no free lease to offer.
    AnswerPartnerEmpty = 5,
    /// Partner's bucket, within the time limit: the partner answers it.
    Drop = 6,
}

impl Verdict {
    pub const fn answers(self) -> bool {
        !matches!(self, Verdict::Drop)
    }
}

/// Whether `bucket` is served by this server under `steering`, ignoring state and secs.
#[inline(always)]
pub fn bucket_is_mine(steering: &Steering, bucket: u8) -> bool {
    if steering.has_hba == 0 {
        return false;
    }
    steering.hba.primary_serves(bucket) == (steering.role() == Role::Primary)
}

/// Decide whether to answer a request. Pure, total, allocation-free.
#[inline(always)]
pub fn decide(steering: &Steering, req: &RequestView) -> Verdict {
    match req.kind {
        MsgKind::Discover | MsgKind::BootpRequest => {}
        MsgKind::OtherDhcp(_) => return Verdict::AnswerNotBalancedKind,
    }
    if steering.state != FailoverState::NORMAL.get() {
        return Verdict::AnswerNotBalancedState;
    }
    if bucket_is_mine(steering, req.bucket) {
        return Verdict::AnswerOwnBucket;
    }
    if steering.lb_max_secs == 0 {
        return Verdict::AnswerBalancingOff;
    }
    if req.secs > steering.lb_max_secs {
        return Verdict::AnswerPartnerLate;
    }
    if steering.partner_has_free == 0 {
        return Verdict::AnswerPartnerEmpty;
    }
    Verdict::Drop
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn steering(role: Role, hba: Hba, lbms: u16) -> Steering {
        Steering {
            hba,
            lb_max_secs: lbms,
            role: role.code(),
            state: FailoverState::NORMAL.get(),
            has_hba: 1,
            partner_has_free: 1,
            enforce: 1,
            _pad: 0,
        }
    }

    fn discover(bucket: u8, secs: u16) -> RequestView {
        RequestView { kind: MsgKind::Discover, secs, bucket }
    }

    /// The live dhcpd run: primary with hba 0x0f x 32 and lbms 3.
    #[test]
    fn matches_live_dhcpd_primary() {
        let s = steering(Role::Primary, Hba([0x0f; 32]), 3);
        assert!(decide(&s, &discover(51, 0)).answers()); // cid-hash 51: answered
        assert_eq!(decide(&s, &discover(117, 0)), Verdict::Drop); // cid-hash 117: deferred
        assert_eq!(decide(&s, &discover(23, 0)), Verdict::Drop); // chaddr-hash 23: deferred
        assert!(decide(&s, &discover(18, 0)).answers()); // chaddr-hash 18: answered
        assert_eq!(decide(&s, &discover(117, 10)), Verdict::AnswerPartnerLate); // secs 10 > 3
    }

    #[test]
    fn requests_are_never_balanced() {
        let s = steering(Role::Secondary, Hba::ALL_PRIMARY, 3);
        let r = RequestView { kind: MsgKind::OtherDhcp(3), secs: 0, bucket: 0 };
        assert_eq!(decide(&s, &r), Verdict::AnswerNotBalancedKind);
    }

    #[test]
    fn outside_normal_everything_is_answered() {
        let mut s = steering(Role::Secondary, Hba::ALL_PRIMARY, 3);
        s.state = FailoverState::COMMUNICATIONS_INTERRUPTED.get();
        assert_eq!(decide(&s, &discover(5, 0)), Verdict::AnswerNotBalancedState);
    }

    #[test]
    fn secondary_without_hba_owns_nothing() {
        let mut s = steering(Role::Secondary, Hba::ALL_SECONDARY, 3);
        s.has_hba = 0;
        assert_eq!(decide(&s, &discover(200, 0)), Verdict::Drop);
    }

    #[test]
    fn lbms_zero_turns_balancing_off() {
        let s = steering(Role::Secondary, Hba::ALL_PRIMARY, 0);
        assert_eq!(decide(&s, &discover(9, 0)), Verdict::AnswerBalancingOff);
    }

    proptest! {
        /// For any split and any bucket, exactly one of the two servers answers a fresh DISCOVER.
        #[test]
        fn every_bucket_has_exactly_one_owner(split in 0u16..=256, bucket in 0u8..=255, lbms in 1u16..100) {
            let p = steering(Role::Primary, Hba::from_split(split), lbms);
            let s = steering(Role::Secondary, Hba::from_split(split), lbms);
            let d = discover(bucket, 0);
            prop_assert!(decide(&p, &d).answers() ^ decide(&s, &d).answers());
        }

        /// The hba form and the split form of the same assignment decide identically.
        #[test]
        fn hba_and_split_agree(split in 0u16..=256, bucket in 0u8..=255, secs in 0u16..10) {
            let from_split = Hba::from_split(split);
            let mut bits = [0u8; 32];
            for b in 0..split as usize { bits[b / 8] |= 1 << (b % 8); }
            let explicit = Hba(bits);
            for role in [Role::Primary, Role::Secondary] {
                let a = steering(role, from_split, 3);
                let b = steering(role, explicit, 3);
                prop_assert_eq!(decide(&a, &discover(bucket, secs)), decide(&b, &discover(bucket, secs)));
            }
        }

        /// A client that waited longer than the limit is always answered by both servers.
        #[test]
        fn late_clients_are_answered_by_both(split in 0u16..=256, bucket in 0u8..=255, lbms in 1u16..100, extra in 1u16..100) {
            for role in [Role::Primary, Role::Secondary] {
                let s = steering(role, Hba::from_split(split), lbms);
                prop_assert!(decide(&s, &discover(bucket, lbms + extra)).answers());
            }
        }
    }
}
