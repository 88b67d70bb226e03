//! Open enumerations of the failover wire codes.
//!
//! Every type here is a newtype over the raw wire value with named constants, so a value this
//! crate does not know (a newer peer, a corrupted message) survives decode → encode unchanged.

use dhcp_common::{BindingState, open_enum};

open_enum! {
    /// Failover message type (header byte 2). Numbering as dhcpd/draft-12 use it:
    /// 7 = UPDREQALL, 9 = UPDREQ (Wireshark's table has these two swapped).
    MessageType(u8), unknown_fmt = "message-type-{}" {
        POOLREQ = 1, "POOLREQ";
        POOLRESP = 2, "POOLRESP";
        BNDUPD = 3, "BNDUPD";
        BNDACK = 4, "BNDACK";
        CONNECT = 5, "CONNECT";
        CONNECTACK = 6, "CONNECTACK";
        UPDREQALL = 7, "UPDREQALL";
        UPDDONE = 8, "UPDDONE";
        UPDREQ = 9, "UPDREQ";
        STATE = 10, "STATE";
        CONTACT = 11, "CONTACT";
        DISCONNECT = 12, "DISCONNECT";
    }
}

open_enum! {
    /// Failover option code (draft-12 numbering, as dhcpd 4.x implements it).
    /// Names are dhcpd's `ft_options[]` names.
    OptionCode(u16), unknown_fmt = "option-{}" {
        ADDRESSES_TRANSFERRED = 1, "addresses-transferred";
        ASSIGNED_IP_ADDRESS = 2, "assigned-IP-address";
        BINDING_STATUS = 3, "binding-status";
        CLIENT_IDENTIFIER = 4, "client-identifier";
        CLIENT_HARDWARE_ADDRESS = 5, "client-hardware-address";
        CLIENT_LAST_TRANSACTION_TIME = 6, "client-last-transaction-time";
        CLIENT_REPLY_OPTIONS = 7, "client-reply-options";
        CLIENT_REQUEST_OPTIONS = 8, "client-request-options";
        DDNS = 9, "DDNS";
        DELAYED_SERVICE = 10, "delayed-service";
        HASH_BUCKET_ASSIGNMENT = 11, "hash-bucket-assignment";
        IP_FLAGS = 12, "IP-flags";
        LEASE_EXPIRATION_TIME = 13, "lease-expiration-time";
        MAX_UNACKED_BNDUPD = 14, "max-unacked-bndupd";
        MCLT = 15, "MCLT";
        MESSAGE = 16, "message";
        MESSAGE_DIGEST = 17, "message-digest";
        POTENTIAL_EXPIRATION_TIME = 18, "potential-expiration-time";
        RECEIVE_TIMER = 19, "receive-timer";
        PROTOCOL_VERSION = 20, "protocol-version";
        REJECT_REASON = 21, "reject-reason";
        RELATIONSHIP_NAME = 22, "relationship-name";
        SERVER_FLAGS = 23, "server-flags";
        SERVER_STATE = 24, "server-state";
        START_TIME_OF_STATE = 25, "start-time-of-state";
        TLS_REPLY = 26, "TLS-reply";
        TLS_REQUEST = 27, "TLS-request";
        VENDOR_CLASS_IDENTIFIER = 28, "vendor-class-identifier";
        VENDOR_SPECIFIC_OPTIONS = 29, "vendor-specific-options";
    }
}

open_enum! {
    /// Reject reason (option 21) [digest §1.7]. dhcpd itself uses 1–8, 16, 18 and 19.
    RejectReason(u8), unknown_fmt = "reject-reason-{}" {
        ILLEGAL_IP_ADDR = 1, "IP address not part of any address pool";
        FATAL_CONFLICT = 2, "fatal conflict: address in use by other client";
        MISSING_BINDINFO = 3, "missing binding information";
        TIMEMISMATCH = 4, "time mismatch too great";
        INVALID_MCLT = 5, "invalid MCLT value";
        MISC_REJECT = 6, "unknown reason";
        DUP_CONNECTION = 7, "duplicate connection";
        INVALID_PARTNER = 8, "invalid failover partner";
        TLS_UNSUPPORTED = 9, "TLS not supported";
        TLS_UNCONFIGURED = 10, "TLS supported but not configured";
        TLS_REQUIRED = 11, "TLS required but not supported by partner";
        DIGEST_UNSUPPORTED = 12, "message digest not supported";
        DIGEST_UNCONFIGURED = 13, "message digest not configured";
        VERSION_MISMATCH = 14, "protocol version mismatch";
        OUTDATED_BIND_INFO = 15, "outdated binding information";
        LESS_CRIT_BIND_INFO = 16, "less critical binding information";
        NO_TRAFFIC = 17, "no traffic within sufficient time";
        HBA_CONFLICT = 18, "hash bucket assignment conflict";
        IP_NOT_RESERVED = 19, "IP not reserved on this server";
        IP_DIGEST_FAILURE = 20, "message digest failed to compare";
        IP_MISSING_DIGEST = 21, "missing message digest";
        UNKNOWN = 254, "unknown reason";
    }
}

/// Binding status (option 3) [digest §4.1] as received: the wire code of a [`BindingState`]
/// (`BindingState::wire_code`), kept as the byte so that a code this crate does not know
/// survives decode → encode. [`state`](Self::state) reads it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BindingStatus(pub u8);

impl BindingStatus {
    /// The binding state this code means, `None` for a code outside 1..=7.
    pub const fn state(self) -> Option<BindingState> {
        BindingState::from_wire_code(self.0)
    }
}

impl From<BindingState> for BindingStatus {
    /// RESERVED and BOOTP leases go as ACTIVE (their flags travel in IP-flags).
    fn from(state: BindingState) -> BindingStatus {
        BindingStatus(state.wire_code())
    }
}

/// A `binding-status` code that names no binding state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown binding status {0}")]
pub struct UnknownBindingStatus(pub u8);

impl TryFrom<BindingStatus> for BindingState {
    type Error = UnknownBindingStatus;

    fn try_from(status: BindingStatus) -> Result<BindingState, UnknownBindingStatus> {
        status.state().ok_or(UnknownBindingStatus(status.0))
    }
}

/// dhcpd's lease-file name, or `binding-status-N` for a code without one.
impl core::fmt::Display for BindingStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.state() {
            Some(state) => f.write_str(state.name()),
            None => write!(f, "binding-status-{}", self.0),
        }
    }
}

impl core::fmt::Debug for BindingStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.state() {
            Some(state) => write!(f, "BindingStatus({}={})", state.name(), self.0),
            None => write!(f, "BindingStatus({})", self.0),
        }
    }
}

/// server-flags (option 23). Bit 0 = STARTUP; other bits are kept as received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct ServerFlags(pub u8);

impl ServerFlags {
    /// No flags.
    pub const NONE: ServerFlags = ServerFlags(0);
    /// The sender is in STARTUP (dhcpd then reports its saved state in server-state).
    pub const STARTUP: ServerFlags = ServerFlags(1);

    /// True when the STARTUP bit is set.
    pub const fn is_startup(self) -> bool {
        self.0 & 1 != 0
    }
}

/// IP-flags (option 12, **2 bytes** on the wire). Bit 0 RESERVED, bit 1 BOOTP.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct IpFlags(pub u16);

impl IpFlags {
    /// No flags (dhcpd omits the option then).
    pub const NONE: IpFlags = IpFlags(0);
    /// The lease is reserved.
    pub const RESERVED: IpFlags = IpFlags(1);
    /// The lease was handed out by BOOTP.
    pub const BOOTP: IpFlags = IpFlags(2);

    /// True when the RESERVED bit is set.
    pub const fn is_reserved(self) -> bool {
        self.0 & 1 != 0
    }
    /// True when the BOOTP bit is set.
    pub const fn is_bootp(self) -> bool {
        self.0 & 2 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_status_round_trips_every_state_and_keeps_unknown_codes() {
        for state in BindingState::ALL {
            let status = BindingStatus::from(state);
            let back = BindingState::try_from(status).expect("a state's code is known");
            // RESERVED and BOOTP travel as ACTIVE.
            let expected = if matches!(state, BindingState::Reserved | BindingState::Bootp) {
                BindingState::Active
            } else {
                state
            };
            assert_eq!(back, expected);
            assert_eq!(status.to_string(), expected.name());
        }
        for code in [0u8, 8, 9, 200, 255] {
            let status = BindingStatus(code);
            assert_eq!(BindingState::try_from(status), Err(UnknownBindingStatus(code)));
            assert_eq!(status.to_string(), format!("binding-status-{code}"));
            assert_eq!(status.0, code, "the byte is kept for re-encoding");
        }
    }
}
