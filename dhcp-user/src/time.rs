//! Time as the sans-IO core sees it: passed in by the caller, never read from the system.
//!
//! DHCP and failover times are absolute Unix seconds on the wire and in the lease file, so the
//! core works in Unix seconds (u32, as dhcpd's lease file and the failover protocol do).

/// Seconds since the Unix epoch. `NEVER` marks infinite leases (BOOTP, `ends never`).
pub type UnixSecs = u32;

pub const NEVER: UnixSecs = u32::MAX;

/// "Now", as given to the core by the runtime (or by the simulator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now {
    pub unix: UnixSecs,
}

impl Now {
    pub const fn at(unix: UnixSecs) -> Now {
        Now { unix }
    }

    /// `now + secs`, saturating at [`NEVER`].
    pub fn plus(self, secs: u32) -> UnixSecs {
        self.unix.saturating_add(secs)
    }
}
