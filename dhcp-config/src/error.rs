//! Errors and warnings, every one of them tied to a `file:line:column` position.
//!
//! The reader collects as many problems as it can in one pass (a broken statement is
//! skipped up to its `;` or its block), so an administrator fixes a file in one round
//! trip instead of one error per run.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A position in a configuration file: file name as given (or as resolved for an
/// `include`), 1-based line and 1-based column counted in characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file name, shared between all the spans of that file.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Span {
    /// A span at the start of `file`, for problems that concern a whole file.
    pub fn start_of(file: &str) -> Self {
        Span { file: Arc::from(file), line: 1, column: 1 }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found in the configuration, syntactic or semantic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {kind}")]
pub struct ConfigError {
    /// Where the problem is.
    pub span: Span,
    /// What the problem is.
    pub kind: ErrorKind,
}

impl ConfigError {
    pub(crate) fn new(span: &Span, kind: ErrorKind) -> Self {
        ConfigError { span: span.clone(), kind }
    }
}

/// What went wrong. The `Display` text is meant for an administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // ---- lexical / structural ----
    /// A `"` without its closing `"`.
    #[error("unterminated string")]
    UnterminatedString,
    /// A token did not fit; `after` is the text of the statement read so far.
    #[error("expected {expected} after '{after}', found {found}")]
    Expected { expected: String, after: String, found: String },
    /// A block was still open at the end of the file.
    #[error("expected '}}' to close the block opened at {opened}")]
    UnclosedBlock { opened: Span },
    /// A `}` with no block to close.
    #[error("unexpected '}}' with no open block")]
    UnexpectedCloseBrace,
    /// Blocks nested deeper than the reader accepts.
    #[error("blocks nested more than {max} deep")]
    NestingTooDeep { max: usize },
    /// An included file could not be read.
    #[error("cannot include \"{path}\": {reason}")]
    IncludeFailed { path: String, reason: String },
    /// A file includes itself, directly or not.
    #[error("include cycle: \"{path}\" is already being read")]
    IncludeCycle { path: String },
    /// Includes nested deeper than the reader accepts.
    #[error("includes nested more than {max} deep at \"{path}\"")]
    IncludeTooDeep { path: String, max: usize },

    // ---- statements ----
    /// A statement ISC dhcpd knows but this reader does not implement. Never ignored
    /// silently: a server that skipped it would behave differently from dhcpd.
    #[error("`{statement}` is not supported")]
    Unsupported { statement: String },
    /// A statement ISC dhcpd knows, refused until xdhcpd implements what it does.
    #[error("`{statement}` is not supported yet: {reason}")]
    NotYetSupported { statement: String, reason: String },
    /// A statement ISC dhcpd knows, refused for good with the reason (what dhcpd does
    /// with it that xdhcpd will not do).
    #[error("`{statement}` is not supported: {reason}")]
    NotSupported { statement: String, reason: String },
    /// A statement nobody knows.
    #[error("unknown statement '{name}'")]
    UnknownStatement { name: String },
    /// An `option NAME` with no standard or user-defined definition.
    #[error("unknown option '{name}'")]
    UnknownOption { name: String },
    /// `SPACE.NAME` or `encapsulate SPACE` with no `option space SPACE` before.
    #[error("option space '{name}' is not declared")]
    UnknownOptionSpace { name: String },
    /// A known statement in a scope where it has no meaning.
    #[error("'{statement}' is not allowed in {scope}")]
    NotAllowedHere { statement: String, scope: String },
    /// A value of the right shape but out of range or malformed.
    #[error("invalid {what} '{value}': {reason}")]
    InvalidValue { what: String, value: String, reason: String },
    /// A mandatory statement is missing from a block.
    #[error("{block} has no '{missing}'")]
    Missing { block: String, missing: String },

    // ---- semantic ----
    /// Two dynamic ranges share addresses (dhcpd would hand the same address twice).
    #[error("range {range} overlaps range {other_range} at {other}")]
    RangeOverlap { range: String, other_range: String, other: Span },
    /// A range with addresses outside its subnet.
    #[error("range {range} is outside subnet {subnet}")]
    RangeOutsideSubnet { range: String, subnet: String },
    /// A range in a shared-network pool that lies in none of its subnets.
    #[error("range {range} is in no subnet of shared-network \"{network}\"")]
    RangeInNoSubnet { range: String, network: String },
    /// `range A B` with A > B.
    #[error("range start {start} is greater than its end {end}")]
    RangeReversed { start: Ipv4Addr, end: Ipv4Addr },
    /// `failover peer "x";` in a pool, with no `failover peer "x" { }` declaration.
    #[error("failover peer \"{name}\" is not declared")]
    UnknownFailoverPeer { name: String },
    /// A statement only the primary may carry appears on a secondary.
    #[error("'{statement}' must not be set on secondary failover peer \"{peer}\"")]
    NotOnSecondary { peer: String, statement: String },
    /// A primary must declare the MCLT (the secondary learns it from the primary).
    #[error("primary failover peer \"{peer}\" has no 'mclt'")]
    PrimaryWithoutMclt { peer: String },
    /// `split` and `hba` say the same thing twice.
    #[error("failover peer \"{peer}\" has both 'split' and 'hba'")]
    SplitAndHba { peer: String },
    /// Hot standby gives all buckets to the primary; a split contradicts it.
    #[error("failover peer \"{peer}\" has both 'hot-standby-reserve' and 'split'/'hba'")]
    HotStandbyAndSplit { peer: String },
    /// dhcpd does not allow dynamic BOOTP in a failover pool (BOOTP leases never expire).
    #[error("'range dynamic-bootp' is not allowed in a pool with failover peer \"{peer}\"")]
    DynamicBootpInFailoverPool { peer: String },
    /// The same subnet declared twice.
    #[error("subnet {subnet} is already declared at {first}")]
    DuplicateSubnet { subnet: String, first: Span },
    /// A netmask whose one bits are not contiguous.
    #[error("netmask {mask} is not contiguous")]
    NonContiguousNetmask { mask: Ipv4Addr },
    /// `subnet A netmask M` with host bits set in A.
    #[error("subnet {network} has host bits set for netmask {mask}")]
    HostBitsSet { network: Ipv4Addr, mask: Ipv4Addr },
    /// Two declarations with the same name.
    #[error("{what} \"{name}\" is already declared at {first}")]
    Duplicate { what: String, name: String, first: Span },
    /// A second `interface` statement for one shared network (its subnets included).
    #[error("a subnet or shared network can't be connected to two interfaces (\"{first}\" already is, as dhcpd says)")]
    SecondInterface { first: String },
    /// `omapi-key NAME` naming no `key NAME { }`.
    #[error("key \"{name}\" is not declared")]
    UnknownKey { name: String },
    /// A key used where another algorithm is needed (`omapi-key`: hmac-md5, `auth-key`:
    /// hmac-sha256).
    #[error("{used_by} needs an {wanted} key, but key \"{name}\" is {found}")]
    KeyAlgorithm { name: String, used_by: String, wanted: String, found: String },
}

/// A problem that does not stop the server, reported beside the loaded configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{span}: warning: {kind}")]
pub struct Warning {
    /// Where the problem is.
    pub span: Span,
    /// What the problem is.
    pub kind: WarningKind,
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WarningKind {
    /// A failover peer no pool refers to (dhcpd refuses to start on this; we only warn).
    #[error("failover peer \"{name}\" is declared but no pool uses it")]
    UnusedFailoverPeer { name: String },
    /// A primary with neither `split`, `hba` nor `hot-standby-reserve`: dhcpd warns too,
    /// and then sends no load-balancing bitmap.
    #[error("primary failover peer \"{name}\" has no 'split', 'hba' or 'hot-standby-reserve'")]
    PrimaryWithoutSplit { name: String },
    /// A statement dhcpd reads in the global scope only, written in another scope: as
    /// in dhcpd, it has no effect there.
    #[error("'{statement}' is only read in the global scope; here it has no effect (as in dhcpd)")]
    GlobalOnly { statement: String },
    /// A statement that xdhcpd reads but that changes nothing it does, with why.
    #[error("`{statement}` has no effect: {reason}")]
    NoEffect { statement: String, reason: String },
    /// A stray expression statement (`NAME = "value";`): dhcpd evaluates it and
    /// discards the result, so it has no effect.
    #[error("`{text}` is an expression whose value nothing uses; it has no effect (as in dhcpd)")]
    ExpressionWithoutEffect { text: String },
    /// The same hardware address on two hosts: dhcpd allows it (a machine with a fixed
    /// address on each of several networks).
    #[error(
        "hardware ethernet {mac} is also that of host \"{host}\" at {first}: the first of these hosts with a fixed address on the client's network answers it (as in dhcpd)"
    )]
    SharedHardware { mac: String, host: String, first: Span },
    /// An option code wider than its space's code width: dhcpd sends its low bytes.
    #[error("option code {code} does not fit in {width} byte(s): it is sent as {sent}, as dhcpd sends it")]
    CodeTruncated { code: u32, sent: u32, width: u8 },
    /// Two hosts with the same fixed address: dhcpd allows it, and each client still gets
    /// its own host's answer, so both may end up using the address.
    #[error("fixed-address {address} is also the fixed address of host \"{host}\" at {first}")]
    SharedFixedAddress { address: Ipv4Addr, host: String, first: Span },
}

/// Every error found (at least one), plus the warnings found on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The errors, in file order as far as possible.
    pub errors: Vec<ConfigError>,
    /// The warnings found before giving up.
    pub warnings: Vec<Warning>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
