//! Failover states with their wire codes (draft-12 §12.24 as dhcpd numbers them).
//! Shared so the XDP program and userspace agree on what is written into the steering map.

/// Wire code of a failover state. An open set: unknown codes from a peer survive as-is.
pub type StateCode = u8;

pub const UNKNOWN: StateCode = 0;
pub const STARTUP: StateCode = 1;
pub const NORMAL: StateCode = 2;
pub const COMMUNICATIONS_INTERRUPTED: StateCode = 3;
pub const PARTNER_DOWN: StateCode = 4;
pub const POTENTIAL_CONFLICT: StateCode = 5;
pub const RECOVER: StateCode = 6;
pub const PAUSED: StateCode = 7;
pub const SHUTDOWN: StateCode = 8;
pub const RECOVER_DONE: StateCode = 9;
pub const RESOLUTION_INTERRUPTED: StateCode = 10;
pub const CONFLICT_DONE: StateCode = 11;
/// RECOVER-WAIT has no draft code; dhcpd sends 254.
pub const RECOVER_WAIT: StateCode = 254;
