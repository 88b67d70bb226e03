//! Result codes carried in a STATUS message's `result` value (ISC and DHCP result classes).

/// A result code as sent in STATUS `result` (4-byte big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResultCode(pub u32);

const DHCP: u32 = 6 << 16;

impl ResultCode {
    pub const SUCCESS: ResultCode = ResultCode(0);
    pub const NOMEMORY: ResultCode = ResultCode(1);
    pub const NOPERM: ResultCode = ResultCode(6);
    pub const EXISTS: ResultCode = ResultCode(18);
    /// omshell: "not found" (use message "no object matches specification").
    pub const NOTFOUND: ResultCode = ResultCode(23);
    pub const FAILURE: ResultCode = ResultCode(25);
    pub const IOERROR: ResultCode = ResultCode(26);
    pub const NOTIMPLEMENTED: ResultCode = ResultCode(27);
    pub const UNEXPECTED: ResultCode = ResultCode(34);
    pub const NOTCONNECTED: ResultCode = ResultCode(40);
    pub const INVALIDARG: ResultCode = ResultCode(DHCP + 3);
    pub const UNCHANGED: ResultCode = ResultCode(DHCP + 5);
    pub const MULTIPLE: ResultCode = ResultCode(DHCP + 6);
    pub const KEYCONFLICT: ResultCode = ResultCode(DHCP + 7);
    pub const BADPARSE: ResultCode = ResultCode(DHCP + 8);
    /// "No authenticator on message".
    pub const NOKEYS: ResultCode = ResultCode(DHCP + 9);
    pub const KEY_UNKNOWN: ResultCode = ResultCode(DHCP + 10);
    /// Bad signature.
    pub const INVALIDKEY: ResultCode = ResultCode(DHCP + 11);
    /// LIVE `0x00060020`.
    pub const UNKNOWNATTRIBUTE: ResultCode = ResultCode(DHCP + 32);

    pub fn is_success(self) -> bool {
        self.0 == 0
    }

    /// The text omshell prints for the code, where known.
    pub fn text(self) -> &'static str {
        match self {
            ResultCode::SUCCESS => "success",
            ResultCode::NOMEMORY => "out of memory",
            ResultCode::NOPERM => "permission denied",
            ResultCode::EXISTS => "already exists",
            ResultCode::NOTFOUND => "not found",
            ResultCode::FAILURE => "failure",
            ResultCode::IOERROR => "I/O error",
            ResultCode::NOTIMPLEMENTED => "not implemented",
            ResultCode::UNEXPECTED => "unexpected error",
            ResultCode::NOTCONNECTED => "not connected",
            ResultCode::INVALIDARG => "invalid argument",
            ResultCode::UNCHANGED => "object unchanged",
            ResultCode::MULTIPLE => "more than one object matches key",
            ResultCode::KEYCONFLICT => "key conflict",
            ResultCode::BADPARSE => "parse error",
            ResultCode::NOKEYS => "no key specified",
            ResultCode::KEY_UNKNOWN => "zone TSIG key not known",
            ResultCode::INVALIDKEY => "invalid TSIG key",
            ResultCode::UNKNOWNATTRIBUTE => "unknown attribute",
            _ => "unknown result code",
        }
    }
}

impl std::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:#x})", self.text(), self.0)
    }
}
