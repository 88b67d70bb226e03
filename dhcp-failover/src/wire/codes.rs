//! Open enumerations of the failover wire codes.
//!
//! Every type here is a newtype over the raw wire value with named constants, so a value this
//! crate does not know (a newer peer, a corrupted message) survives decode → encode unchanged.

/// Defines an open enum: `pub struct $name(pub $repr)` with named constants, `name()`,
/// `is_known()`, `Display` (the name, or the number when unknown) and conversions.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty), unknown_fmt = $unk:literal {
            $( $(#[$cmeta:meta])* $konst:ident = $val:expr, $text:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* #[doc = concat!("`", stringify!($val), "` = ", $text)] pub const $konst: $name = $name($val); )*

            /// Every named value, in numeric order.
            pub const ALL: &'static [$name] = &[ $( $name($val) ),* ];

            /// The name, or `None` for a value without a name.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($text), )*
                    _ => None,
                }
            }

            /// True when the value has a named constant.
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }

            /// The raw wire value.
            pub const fn get(self) -> $repr {
                self.0
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, $unk, self.0),
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({}={})", stringify!($name), n, self.0),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}
pub(crate) use open_enum;

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

open_enum! {
    /// Binding status (option 3) [digest §4.1]; the display names are dhcpd's lease-file names.
    BindingStatus(u8), unknown_fmt = "binding-status-{}" {
        FREE = 1, "free";
        ACTIVE = 2, "active";
        EXPIRED = 3, "expired";
        RELEASED = 4, "released";
        ABANDONED = 5, "abandoned";
        RESET = 6, "reset";
        BACKUP = 7, "backup";
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
