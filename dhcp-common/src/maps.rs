//! Layouts of the BPF maps shared by the XDP program and userspace.
//!
//! Steering configuration is double-buffered so a packet never sees half an update: userspace
//! writes the idle slot of [`STEERING_MAP`], then flips the one-word index in
//! [`STEERING_ACTIVE_MAP`] (a 4-byte array store, which the kernel performs atomically).

use crate::decision::{Steering, Verdict};
use crate::frame::Classified;

pub const STEERING_MAP: &str = "STEERING";
pub const STEERING_ACTIVE_MAP: &str = "STEERING_ACTIVE";
pub const COUNTERS_MAP: &str = "COUNTERS";
/// The XDP program's function name in the object.
pub const PROGRAM_NAME: &str = "xdhcpd_xdp";

/// Per-CPU counters, one slot per outcome. Indices are stable: they are ABI between a pinned
/// program and a newer userspace.
pub mod counter {
    /// Not IPv4/UDP to port 67, or an IP fragment.
    pub const NOT_DHCP: u32 = 0;
    /// A request that cannot be parsed within bounds.
    pub const MALFORMED: u32 = 1;
    /// Option overload in use (options in sname/file).
    pub const OVERLOAD: u32 = 2;
    /// Passed: message type not balanced (REQUEST, RELEASE, ...).
    pub const PASS_NOT_BALANCED_KIND: u32 = 3;
    /// Passed: state other than NORMAL.
    pub const PASS_NOT_BALANCED_STATE: u32 = 4;
    /// Passed: my bucket.
    pub const PASS_MINE: u32 = 5;
    /// Passed: balancing off (lbms 0).
    pub const PASS_BALANCING_OFF: u32 = 6;
    /// Passed: partner's bucket, secs above the limit (partner-liveness evidence).
    pub const PASS_PARTNER_LATE: u32 = 7;
    /// Passed: partner's bucket, partner has no free leases.
    pub const PASS_PARTNER_EMPTY: u32 = 8;
    /// Dropped: partner's bucket.
    pub const DROP_PARTNER: u32 = 9;
    /// Would drop, but enforcement is off: passed.
    pub const PASS_NOT_ENFORCED: u32 = 10;
    /// Client identifier too long to hash in XDP: passed to userspace.
    pub const LONG_CLIENT_ID: u32 = 11;
    pub const COUNT: u32 = 12;

    /// Names for logs and metrics, by index.
    pub const NAMES: [&str; COUNT as usize] = [
        "not_dhcp",
        "malformed",
        "overload",
        "pass_not_balanced_kind",
        "pass_not_balanced_state",
        "pass_mine",
        "pass_balancing_off",
        "pass_partner_late",
        "pass_partner_empty",
        "drop_partner",
        "pass_not_enforced",
        "long_client_id",
    ];
}

/// What the XDP program does with a frame, and which counter it bumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    pub drop: bool,
    pub counter: u32,
}

/// Map a classification and (for requests) the decision to an action. Shared by the XDP
/// program and the userspace equivalence tests.
#[inline(always)]
pub fn action(classified: &Classified, steering: &Steering) -> Action {
    let pass = |counter| Action { drop: false, counter };
    match classified {
        Classified::NotDhcp => pass(counter::NOT_DHCP),
        Classified::Malformed => pass(counter::MALFORMED),
        Classified::Overload => pass(counter::OVERLOAD),
        Classified::LongClientId => pass(counter::LONG_CLIENT_ID),
        Classified::Request(view) => match crate::decision::decide(steering, view) {
            Verdict::AnswerNotBalancedKind => pass(counter::PASS_NOT_BALANCED_KIND),
            Verdict::AnswerNotBalancedState => pass(counter::PASS_NOT_BALANCED_STATE),
            Verdict::AnswerOwnBucket => pass(counter::PASS_MINE),
            Verdict::AnswerBalancingOff => pass(counter::PASS_BALANCING_OFF),
            Verdict::AnswerPartnerLate => pass(counter::PASS_PARTNER_LATE),
            Verdict::AnswerPartnerEmpty => pass(counter::PASS_PARTNER_EMPTY),
            Verdict::Drop if steering.enforce != 0 => Action { drop: true, counter: counter::DROP_PARTNER },
            Verdict::Drop => pass(counter::PASS_NOT_ENFORCED),
        },
    }
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for Steering {}
