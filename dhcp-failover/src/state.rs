//! Failover states: wire codes (server-state option) and dhcpd's names (lease file, logs).

use crate::wire::codes::open_enum;

open_enum! {
    /// A failover state. Open: any byte survives. Names are dhcpd's
    /// (`dhcp_failover_state_name_print`, lease-file `my state …`); `Display` prints them
    /// (`state-N` for a code dhcpd does not know) and `FromStr` parses them.
    ///
    /// RECOVER-WAIT has no draft code; dhcpd sends 254. dhcpd never sends STARTUP (1) on the
    /// wire: it sends its saved state with the server-flags STARTUP bit.
    State(u8), unknown_fmt = "state-{}" {
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

/// A string that is not a dhcpd state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failover state name {0:?}")]
pub struct ParseStateError(pub String);

impl core::str::FromStr for State {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<State, ParseStateError> {
        State::ALL.iter().copied().find(|st| st.name() == Some(s)).ok_or_else(|| ParseStateError(s.to_owned()))
    }
}

/// Our role in the relationship.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Role {
    /// `primary;` in dhcpd.conf (sends CONNECT).
    Primary,
    /// `secondary;` in dhcpd.conf (answers CONNECT).
    Secondary,
}
