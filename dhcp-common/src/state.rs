//! The failover vocabulary, defined once for the XDP program, the lease file, the protocol
//! and the server: [`FailoverState`] (wire code, dhcpd's name), [`Role`] and [`BindingState`].
//! Each spelling (wire or BPF number, lease-file name) is a method of its type, so no other
//! crate keeps a table of its own.

use core::fmt;
use core::str::FromStr;

crate::open_enum! {
    /// A failover state (draft-12 §12.24 as dhcpd numbers it). Open: any byte a peer sends
    /// survives. The number is what goes on the wire (`server-state`) and into the XDP
    /// steering map ([`Steering::state`](crate::Steering::state)); the name is dhcpd's
    /// (`dhcp_failover_state_name_print`, the lease file's `my state …`, logs, `xdhcpd
    /// status`). `Display` prints the name (`state-N` for a code dhcpd does not know) and
    /// `FromStr` parses it.
    ///
    /// RECOVER-WAIT has no draft code; dhcpd sends 254. dhcpd never sends STARTUP (1) on the
    /// wire: it sends its saved state with the server-flags STARTUP bit.
    FailoverState(u8), unknown_fmt = "state-{}" {
        /// Not a draft state; dhcpd's initial partner state.
        UNKNOWN = 0, "unknown-state";
        STARTUP = 1, "startup";
        NORMAL = 2, "normal";
        COMMUNICATIONS_INTERRUPTED = 3, "communications-interrupted";
        PARTNER_DOWN = 4, "partner-down";
        POTENTIAL_CONFLICT = 5, "potential-conflict";
        RECOVER = 6, "recover";
        PAUSED = 7, "paused";
        SHUTDOWN = 8, "shutdown";
        RECOVER_DONE = 9, "recover-done";
        RESOLUTION_INTERRUPTED = 10, "resolution-interrupted";
        CONFLICT_DONE = 11, "conflict-done";
        RECOVER_WAIT = 254, "recover-wait";
    }
}

impl FailoverState {
    /// The state named `name` (exact, lowercase as dhcpd writes it), as the lease file's
    /// reader needs it: bytes, no allocation.
    pub fn from_name(name: &[u8]) -> Option<FailoverState> {
        FailoverState::ALL.iter().copied().find(|s| s.name().is_some_and(|n| n.as_bytes() == name))
    }

    /// The name written in the lease file. dhcpd only writes names it knows, so a code
    /// without a name (a newer peer's) is recorded as `unknown-state`, as it always was.
    pub fn lease_file_name(self) -> &'static str {
        match self.name() {
            Some(name) => name,
            None => "unknown-state",
        }
    }
}

/// A string that is not one of dhcpd's failover state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseStateError;

impl fmt::Display for ParseStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a failover state name")
    }
}

impl core::error::Error for ParseStateError {}

impl FromStr for FailoverState {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<FailoverState, ParseStateError> {
        FailoverState::from_name(s.as_bytes()).ok_or(ParseStateError)
    }
}

/// This server's role in a failover relationship (`primary;` / `secondary;` in dhcpd.conf).
/// The number is what the XDP program reads in [`Steering::role`](crate::Steering::role).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// `primary;` (sends CONNECT; owns the FREE leases).
    Primary = 0,
    /// `secondary;` (answers CONNECT; owns the BACKUP leases).
    Secondary = 1,
}

impl Role {
    /// The value in the BPF steering map; also dhcpd's `hierarchy` (FAILOVER_PRIMARY = 0,
    /// FAILOVER_SECONDARY = 1) as OMAPI's failover-state object shows it.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The role a steering map value means, or `None` for a value no role has.
    pub const fn from_code(code: u8) -> Option<Role> {
        match code {
            0 => Some(Role::Primary),
            1 => Some(Role::Secondary),
            _ => None,
        }
    }

    /// The dhcpd.conf keyword, also used by `xdhcpd status` and the metrics' labels.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }
}

/// Binding state of a lease (dhcpd's `FTS_*` values): one type for the lease file, the lease
/// store, the failover rules and the wire's `binding-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingState {
    Free,
    Active,
    Expired,
    Released,
    Abandoned,
    Reset,
    Backup,
    /// Legacy lease-file name; dhcpd loads it as ACTIVE plus the reserved flag.
    Reserved,
    /// Legacy lease-file name; dhcpd loads it as ACTIVE plus the BOOTP flag.
    Bootp,
}

impl BindingState {
    pub const ALL: [BindingState; 9] = [
        Self::Free,
        Self::Active,
        Self::Expired,
        Self::Released,
        Self::Abandoned,
        Self::Reset,
        Self::Backup,
        Self::Reserved,
        Self::Bootp,
    ];

    /// Can be offered to a new client by a standalone server (the free-class states).
    pub fn is_available(self) -> bool {
        matches!(self, Self::Free | Self::Expired | Self::Released | Self::Backup)
    }

    /// The name dhcpd writes in the lease file (`binding state NAME;`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Abandoned => "abandoned",
            Self::Reset => "reset",
            Self::Backup => "backup",
            Self::Reserved => "reserved",
            Self::Bootp => "bootp",
        }
    }

    /// Parse a lease-file name (exact, lowercase as dhcpd writes it).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.name().as_bytes() == name)
    }

    /// dhcpd's internal `FTS_*` number (FTS_FREE = 1 … FTS_BOOTP = 9): what OMAPI carries as a
    /// lease's `state`.
    pub const fn fts_code(self) -> u8 {
        match self {
            Self::Free => 1,
            Self::Active => 2,
            Self::Expired => 3,
            Self::Released => 4,
            Self::Abandoned => 5,
            Self::Reset => 6,
            Self::Backup => 7,
            Self::Reserved => 8,
            Self::Bootp => 9,
        }
    }

    /// The state an `FTS_*` number means (1..=9), `None` for any other number.
    pub fn from_fts_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.fts_code() == code)
    }

    /// The failover `binding-status` code (digest §4.1: 1 FREE … 7 BACKUP). RESERVED and
    /// BOOTP are not on the wire: a BNDUPD says ACTIVE and carries them in IP-flags.
    pub const fn wire_code(self) -> u8 {
        match self {
            Self::Free => 1,
            Self::Active | Self::Reserved | Self::Bootp => 2,
            Self::Expired => 3,
            Self::Released => 4,
            Self::Abandoned => 5,
            Self::Reset => 6,
            Self::Backup => 7,
        }
    }

    /// The state a `binding-status` code means (1..=7), `None` for any other code.
    pub const fn from_wire_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Free,
            2 => Self::Active,
            3 => Self::Expired,
            4 => Self::Released,
            5 => Self::Abandoned,
            6 => Self::Reset,
            7 => Self::Backup,
            _ => return None,
        })
    }
}

impl fmt::Display for BindingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn every_failover_state_round_trips_by_code_and_name() {
        for &s in FailoverState::ALL {
            assert_eq!(FailoverState::from(s.get()), s);
            let name = s.name().expect("named");
            assert_eq!(s.to_string(), name);
            assert_eq!(name.parse::<FailoverState>(), Ok(s));
            assert_eq!(FailoverState::from_name(s.lease_file_name().as_bytes()), Some(s));
        }
        assert_eq!(FailoverState::RECOVER_WAIT.get(), 254);
        assert_eq!(FailoverState::ALL.len(), 13);
    }

    #[test]
    fn an_unknown_failover_state_survives_and_is_written_as_unknown() {
        for code in 0..=u8::MAX {
            let s = FailoverState(code);
            assert_eq!(u8::from(s), code, "the wire code is kept as received");
            if !s.is_known() {
                assert_eq!(s.to_string(), std::format!("state-{code}"));
                assert_eq!(s.lease_file_name(), "unknown-state");
            }
        }
        assert_eq!("bogus".parse::<FailoverState>(), Err(ParseStateError));
        assert_eq!("state-77".parse::<FailoverState>(), Err(ParseStateError));
    }

    #[test]
    fn every_role_round_trips_through_its_map_code() {
        for role in [Role::Primary, Role::Secondary] {
            assert_eq!(Role::from_code(role.code()), Some(role));
        }
        assert_eq!(Role::Primary.code(), 0);
        assert_eq!(Role::Secondary.code(), 1);
        assert_eq!(Role::from_code(2), None);
        assert_eq!((Role::Primary.name(), Role::Secondary.name()), ("primary", "secondary"));
    }

    #[test]
    fn every_binding_state_round_trips_by_name_and_wire_code() {
        for s in BindingState::ALL {
            assert_eq!(BindingState::from_name(s.name().as_bytes()), Some(s));
            assert_eq!(BindingState::from_fts_code(s.fts_code()), Some(s));
            assert_eq!(s.to_string(), s.name());
        }
        let fts: std::vec::Vec<u8> = BindingState::ALL.iter().map(|s| s.fts_code()).collect();
        assert_eq!(fts, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(BindingState::from_fts_code(0), None);
        assert_eq!(BindingState::from_fts_code(10), None);
        // The seven wire states come back as themselves; RESERVED and BOOTP go as ACTIVE.
        for s in &BindingState::ALL[..7] {
            assert_eq!(BindingState::from_wire_code(s.wire_code()), Some(*s));
        }
        assert_eq!(BindingState::Reserved.wire_code(), BindingState::Active.wire_code());
        assert_eq!(BindingState::Bootp.wire_code(), BindingState::Active.wire_code());
        let codes: std::vec::Vec<u8> = BindingState::ALL[..7].iter().map(|s| s.wire_code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7]);
        for code in (0..=u8::MAX).filter(|c| !(1..=7).contains(c)) {
            assert_eq!(BindingState::from_wire_code(code), None);
        }
        assert_eq!(BindingState::from_name(b"Active"), None);
    }
}
