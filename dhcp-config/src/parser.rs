//! Second parsing stage: statements to a typed AST with positions.
//!
//! Each [`RawStmt`] is interpreted on its own; an error skips that statement (and
//! its block) only. Option values are encoded here, because an option's type is only
//! known from the option definitions read so far (`option NAME code N = TYPE;` takes
//! effect from its position on, as in dhcpd).

use std::net::Ipv4Addr;

use crate::error::{ConfigError, ErrorKind, Span, Warning, WarningKind};
use crate::expr::{AnyExpr, BoolExpr, ExprParser, FnStmt};
#[cfg(test)]
use crate::expr::{MAX_CALLS, Packet, Val, Vars};
use crate::lexer::{Token, TokenKind};
use crate::model::{
    Action, Class, ClientUpdates, DdnsUpdateStyle, Flag, HeaderField, HostAddr, KeyAlgorithm, LogLevel, NamedValue,
    OptionSpace, PeerAddress, Permit, Role, Subclass, Target, ValuePart, Zone,
};
use crate::options::{self, Encoded, OptionDef, OptionTable};
use crate::syntax::RawStmt;

/// A scope parameter: a value that inner scopes inherit and may override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    DefaultLeaseTime(u32),
    MaxLeaseTime(u32),
    MinLeaseTime(u32),
    Authoritative(bool),
    ServerIdentifier(HostAddr),
    PingCheck(bool),
    PingTimeout(u32),
    PingTimeoutMs(u32),
    PingClttSecs(u32),
    LogFacility(String),
    OneLeasePerClient(bool),
    UpdateStaticLeases(bool),
    GetLeaseHostnames(bool),
    /// `ignore-client-uids`: a lease bound under it records no client identifier.
    IgnoreClientUids(bool),
    UseHostDeclNames(bool),
    AllowBooting(bool),
    NextServer(HostAddr),
    Filename(String),
    ServerName(String),
    AllowBootp(bool),
    AllowUnknownClients(bool),
    AllowDynamicBootp(bool),
    /// `allow|deny|ignore duplicates`.
    Duplicates(bool),
    Ddns(DdnsParam),
    VendorOptionSpace(String),
    SiteOptionSpace(String),
}

/// A DNS-update statement of a scope (see [`crate::model::DdnsParams`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DdnsParam {
    Updates(bool),
    DomainName(Vec<u8>),
    RevDomainName(Vec<u8>),
    HostName(Vec<u8>),
    Ttl(u32),
    DoForwardUpdates(bool),
    UpdateOptimization(bool),
    UpdateConflictDetection(bool),
    LocalAddress4(HostAddr),
    GuardIdMustMatch(bool),
    OtherGuardIsDynamic(bool),
    DualStackMixedMode(bool),
    DoReverseUpdates(bool),
    FqdnReply(bool),
    LocalAddress6(std::net::Ipv6Addr),
    ClientUpdates(ClientUpdates),
}

/// One statement of the typed AST.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Param(Param),
    /// `option NAME VALUE;` (already encoded).
    Option {
        code: u8,
        data: Vec<u8>,
    },
    /// `option NAME VALUE;` for an address option written with host names.
    NamedOption {
        code: u8,
        value: NamedValue,
    },
    SharedNetwork {
        name: String,
        span: Span,
        items: Vec<Item>,
    },
    Subnet(SubnetDecl),
    Pool {
        items: Vec<Item>,
    },
    Group {
        items: Vec<Item>,
    },
    Range(RangeDecl),
    Host {
        name: String,
        span: Span,
        items: Vec<Item>,
    },
    Hardware([u8; 6], Span),
    FixedAddress(Vec<(HostAddr, Span)>),
    /// `option dhcp-client-identifier X;` inside a host: identifies the host.
    ClientId(Vec<u8>),
    /// `host-identifier option NAME VALUE;` inside a host: the host of the clients whose
    /// option NAME has that value.
    HostIdentifier(crate::expr::OptionRef, Vec<u8>, Span),
    FailoverPeer(Box<PeerDecl>),
    /// `failover peer "name";` inside a pool.
    FailoverRef(String, Span),
    Key(KeyDecl),
    OmapiPort(u16),
    OmapiKey(String, Span),
    /// `option SPACE.NAME VALUE;` (already encoded).
    SpaceOption {
        space: String,
        code: u32,
        data: Vec<u8>,
    },
    OptionSpace(OptionSpace),
    /// `option NAME code N = encapsulate SPACE;`
    Encapsulation {
        code: u8,
        space: String,
    },
    /// `ddns-update-style STYLE;` (dhcpd reads it in the global scope only).
    DdnsUpdateStyle(DdnsUpdateStyle, Span),
    /// `db-time-format default|local;` (`true`: local).
    DbTimeFormat(bool),
    /// `abandon-lease-time SECONDS;` (dhcpd reads it in the global scope only).
    AbandonLeaseTime(u32, Span),
    Zone(Zone),
    /// A statement executed per packet (`if`, `option NAME = expression;`).
    Dynamic(Action),
    /// `interface NAME;` in a shared-network or a subnet: ties that interface to the
    /// (enclosing) shared network.
    Interface(String, Span),
    /// `allow X;` (`allow: true`) or `deny X;` inside a pool.
    Permit {
        allow: bool,
        permit: Permit,
    },
}

/// `subnet A netmask M { ... }`
#[derive(Debug, Clone)]
pub(crate) struct SubnetDecl {
    pub network: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub span: Span,
    pub netmask_span: Span,
    pub items: Vec<Item>,
}

/// `range [dynamic-bootp] A [B];`
#[derive(Debug, Clone)]
pub(crate) struct RangeDecl {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
    pub dynamic_bootp: bool,
    pub span: Span,
}

/// `failover peer "name" { ... }` as written (defaults are applied when lowering).
#[derive(Debug, Clone)]
pub(crate) struct PeerDecl {
    pub name: String,
    pub span: Span,
    pub role: Role,
    pub address: PeerAddress,
    pub port: Option<u16>,
    pub peer_address: PeerAddress,
    pub peer_port: Option<u16>,
    pub max_response_delay: Option<u32>,
    pub max_unacked_updates: Option<u32>,
    pub mclt: Option<(u32, Span)>,
    pub split: Option<(u16, Span)>,
    pub hba: Option<([u8; 32], Span)>,
    pub load_balance_max_seconds: Option<u32>,
    pub auto_partner_down: Option<u32>,
    pub max_lease_misbalance: Option<u32>,
    pub max_lease_ownership: Option<u32>,
    pub min_balance: Option<u32>,
    pub max_balance: Option<u32>,
    pub hot_standby_reserve: Option<(u8, Span)>,
    /// xdhcpd extension `auth-key NAME;`.
    pub auth_key: Option<(String, Span)>,
    /// xdhcpd extensions `tls-certificate`, `tls-key`, `tls-ca` (file names as written).
    pub tls_certificate: Option<String>,
    pub tls_key: Option<String>,
    pub tls_ca: Option<String>,
}

/// `key NAME { algorithm A; secret S; }`
#[derive(Debug, Clone)]
pub(crate) struct KeyDecl {
    pub name: String,
    pub span: Span,
    pub algorithm: KeyAlgorithm,
    pub secret: Vec<u8>,
}

/// What `option NAME code N = ...;` defines.
enum DefType {
    Plain(options::OptionType),
    Encapsulate(String),
}

/// Where a statement is; decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Global,
    SharedNetwork,
    Subnet,
    Pool,
    Group,
    Host,
    Class,
    /// Inside `on commit|release|expiry { }`.
    OnEvent,
}

impl Scope {
    fn describe(self) -> &'static str {
        match self {
            Scope::Global => "the global scope",
            Scope::SharedNetwork => "a shared-network",
            Scope::Subnet => "a subnet",
            Scope::Pool => "a pool",
            Scope::Group => "a group",
            Scope::Host => "a host",
            Scope::Class => "a class",
            Scope::OnEvent => "an `on` block",
        }
    }
}

/// A date as dhcpd's parse_date_core reads it (`DATE` of `allow after DATE;`), in Unix
/// seconds: `never` (dhcpd's MAX_TIME), `epoch N`, or `W YYYY/MM/DD HH:MM:SS [OFFSET]`
/// (the day of the week is read and ignored; OFFSET, in seconds, is added as dhcpd adds
/// it). The words are the statement's after `after`, however the lexer split them.
fn dhcpd_date(words: &[&str]) -> Result<u32, &'static str> {
    const MAX_TIME: u32 = 0x7fff_ffff;
    let joined = words.join(" ");
    let mut parts = joined.split_whitespace();
    let first = parts.next().ok_or("a date expected")?;
    if first.eq_ignore_ascii_case("never") && parts.next().is_none() {
        return Ok(MAX_TIME);
    }
    if first.eq_ignore_ascii_case("epoch") {
        let n = parts.next().ok_or("seconds since epoch expected")?;
        if parts.next().is_some() {
            return Err("semicolon expected after the seconds since epoch");
        }
        // dhcpd: atoi into a signed time; a date before 1970 is refused here.
        return n.parse::<u32>().ok().filter(|v| *v <= MAX_TIME).ok_or("seconds since epoch expected");
    }
    let num = |s: &str| s.parse::<i64>().ok();
    num(first).ok_or("numeric day of week expected")?;
    let date = parts.next().ok_or("numeric year expected")?;
    let time = parts.next().ok_or("numeric hour expected")?;
    let tzoff = match parts.next() {
        Some(o) => num(o).ok_or("time zone offset or semicolon expected")?,
        None => 0,
    };
    if parts.next().is_some() {
        return Err("semicolon expected");
    }
    let ymd: Vec<i64> = date.split('/').map(num).collect::<Option<_>>().ok_or("YYYY/MM/DD expected")?;
    let hms: Vec<i64> = time.split(':').map(num).collect::<Option<_>>().ok_or("HH:MM:SS expected")?;
    let (&[year, month, day], &[hour, min, sec]) = (ymd.as_slice(), hms.as_slice()) else {
        return Err("W YYYY/MM/DD HH:MM:SS expected");
    };
    // dhcpd indexes a month table with the month unchecked: refused here instead.
    if !(1..=12).contains(&month) {
        return Err("a month from 1 to 12 expected");
    }
    let year = if year > 1900 { year - 1900 } else { year };
    if year >= 138 {
        return Ok(MAX_TIME);
    }
    // dhcpd's own arithmetic (days since 1970 with a leap day every fourth year),
    // so that both servers open and close the pool at the same second.
    const MONTHS: [i64; 11] = [31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let mon = month - 1;
    let before = if mon > 0 { MONTHS.get(mon as usize - 1).copied().unwrap_or(0) } else { 0 };
    let leap = i64::from(mon > 1 && (year - 72) & 3 == 0);
    let days = 365 * (year - 70) + (year - 69) / 4 + before + leap + day - 1;
    let t = ((days * 24 + hour) * 60 + min) * 60 + sec + tzoff;
    u32::try_from(t).map_err(|_| "a date from 1970 on expected")
}

/// The per-packet action a statement of a scope is, for the statements a class or an
/// `if` block may hold (`None` for the others: ranges, pools, hosts...).
pub(crate) fn item_action(item: &Item) -> Option<Action> {
    Some(match item.clone() {
        Item::Dynamic(a) => a,
        Item::Option { code, data } => Action::Option { code, data },
        Item::Param(Param::Filename(f)) => Action::Filename(f),
        Item::Param(Param::ServerName(n)) => Action::ServerName(n),
        Item::Param(Param::NextServer(HostAddr::Ip(a))) => Action::NextServer(a),
        // Host names: looked up with the configuration's other names
        // (`Config::resolve_names`).
        Item::Param(Param::NextServer(HostAddr::Name(n))) => Action::NextServerName(n),
        Item::NamedOption { code, value } => Action::NamedOption { code, value },
        Item::Param(Param::DefaultLeaseTime(v)) => Action::DefaultLeaseTime(v),
        Item::Param(Param::MaxLeaseTime(v)) => Action::MaxLeaseTime(v),
        Item::Param(Param::MinLeaseTime(v)) => Action::MinLeaseTime(v),
        Item::Param(Param::AllowBooting(v)) => Action::Flag(Flag::AllowBooting, v),
        Item::SpaceOption { space, code, data } => Action::SpaceOption { space, code, data },
        Item::Param(Param::VendorOptionSpace(n)) => Action::VendorOptionSpace(n),
        Item::Param(Param::UseHostDeclNames(v)) => Action::Flag(Flag::UseHostDeclNames, v),
        Item::Param(Param::OneLeasePerClient(v)) => Action::Flag(Flag::OneLeasePerClient, v),
        Item::Param(Param::UpdateStaticLeases(v)) => Action::Flag(Flag::UpdateStaticLeases, v),
        Item::Param(Param::Duplicates(v)) => Action::Flag(Flag::Duplicates, v),
        _ => return None,
    })
}

/// Where dhcpd reads `class` and `subclass` declarations: anywhere but inside a class.
const CLASS_SCOPES: &[Scope] =
    &[Scope::Global, Scope::Group, Scope::SharedNetwork, Scope::Subnet, Scope::Pool, Scope::Host];

/// Statements ISC dhcpd 4.4 accepts that we deliberately do not implement. They are
/// rejected by name: silently ignoring e.g. a `class` would change who gets leases.
const UNSUPPORTED: &[&str] = &[
    "match",
    "spawn",
    "case",
    "default",
    "known",
    "lease",
    "subnet6",
    "range6",
    "prefix6",
    "fixed-address6",
    "fixed-prefix6",
    "dhcpv6-lease-file-name",
    "local-address6",
    "lease-file-name",
    "pid-file-name",
    "local-port",
    "local-address",
    "remote-port",
    "dynamic-bootp-lease-cutoff",
    "dynamic-bootp-lease-length",
    "boot-unknown-clients",
    "stash-agent-options",
    "always-broadcast",
    "always-reply-rfc1048",
    "lease-id-format",
    "leasequery",
    "server-duid",
    "limit-addrs-per-ia",
    "preferred-lifetime",
    "delayed-ack",
    "max-ack-delay",
    "infinite-is-reserved",
    "adaptive-lease-time-threshold",
    "min-secs",
    "use-lease-addr-for-default-route",
    "dont-use-fsync",
    "check-secs-byte-order",
    "server-id-check",
    "persist-eui-64-leases",
    "release-on-roam",
    "authoring-byte-order",
    "omapi-local-address",
    "bootp-lease-length",
    "bootp-lease-cutoff",
    "uid",
    "dynamic",
    "hostname",
    "declines",
    "client-updates",
    "duplicates",
    "local-address",
    "ldap-server",
    "ldap-port",
    "ldap-username",
    "ldap-password",
    "ldap-base-dn",
    "ldap-method",
    "ldap-debug-file",
    "ldap-dhcp-server-cn",
    "ldap-referrals",
    "ldap-ssl",
    "ldap-tls-reqcert",
    "ldap-init-retry",
    "ldap-gssapi-principal",
    "ldap-gssapi-keytab",
    "filename-prefix",
    "vendor-class",
    "user-class",
    "prefix-length-mode",
    "primary6",
    "secondary6",
];

/// Option spaces dhcpd defines itself (common/tables.c, server/stables.c): their
/// options are not implemented.
const PREDEFINED_SPACES: &[&str] =
    &["dhcp", "agent", "server", "nwip", "fqdn", "vendor-class", "vendor", "isc", "dhcp6", "vsio", "isc6"];

/// Reads the value of a statement token by token, producing "expected X after Y"
/// errors with the text read so far.
struct Cursor<'s> {
    stmt: &'s RawStmt,
    pos: usize,
}

impl<'s> Cursor<'s> {
    fn new(stmt: &'s RawStmt) -> Self {
        Cursor { stmt, pos: 0 }
    }

    fn peek(&self) -> Option<&'s Token> {
        self.stmt.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&'s Token> {
        let t = self.stmt.tokens.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// The remaining tokens, consuming them.
    fn rest(&mut self) -> &'s [Token] {
        let rest = self.stmt.tokens.get(self.pos..).unwrap_or_default();
        self.pos = self.stmt.tokens.len();
        rest
    }

    /// The text read so far, as it reads in an error.
    fn after(&self) -> String {
        join_tokens(self.stmt.tokens.get(..self.pos).unwrap_or_default())
    }

    /// An "expected X after Y, found Z" error at the next token (or the terminator).
    fn expected(&self, expected: &str) -> ConfigError {
        let (span, found) = match self.peek() {
            Some(t) => (&t.span, t.describe()),
            None => (&self.stmt.end, self.stmt.end_text.to_string()),
        };
        ConfigError::new(span, ErrorKind::Expected { expected: expected.to_string(), after: self.after(), found })
    }

    /// Consumes a word equal (case-insensitively) to `kw`.
    fn keyword(&mut self, kw: &str) -> Result<(), ConfigError> {
        match self.peek().and_then(Token::word) {
            Some(w) if w.eq_ignore_ascii_case(kw) => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(self.expected(&format!("'{kw}'"))),
        }
    }

    /// Consumes any word.
    fn word(&mut self, expected: &str) -> Result<&'s Token, ConfigError> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Word => {
                self.pos += 1;
                Ok(t)
            }
            _ => Err(self.expected(expected)),
        }
    }

    /// Consumes an IPv4 address literal.
    fn ip(&mut self, expected: &str) -> Result<(Ipv4Addr, Span), ConfigError> {
        let t = self.word(expected)?;
        Ok((options::parse_ip(t)?, t.span.clone()))
    }

    /// Consumes an IPv4 address or a host name (where dhcpd accepts either).
    fn host_addr(&mut self) -> Result<(HostAddr, Span), ConfigError> {
        let t = self.word("an IPv4 address or a host name")?;
        Ok((options::parse_host_addr(t)?, t.span.clone()))
    }

    /// Consumes a boolean value (`true`, `false`, `on`, `off`); dhcpd requires one.
    fn flag(&mut self) -> Result<bool, ConfigError> {
        let t = self.word("true, false, on or off")?;
        options::parse_bool(t)
    }

    /// Consumes a text value: a quoted string, or one word of the characters dhcpd's
    /// lexer keeps in a name.
    fn text(&mut self) -> Result<Vec<u8>, ConfigError> {
        let Some(t) = self.next() else {
            return Err(self.expected("a quoted string"));
        };
        options::encode(options::OptionType::Text, std::slice::from_ref(t), &t.span)
    }

    /// Consumes a time in seconds as dhcpd's `T` format reads it: a number, or
    /// `infinite` (`u32::MAX`).
    fn lease_time(&mut self) -> Result<u32, ConfigError> {
        let t = self.word("a number of seconds or 'infinite'")?;
        if t.text.eq_ignore_ascii_case("infinite") {
            return Ok(u32::MAX);
        }
        // dhcpd's convert_num accumulates the digits in 32 bits without a limit (its
        // maximum for 32 bits overflows), so a larger number wraps around; a negative one
        // down to -2^31 is stored two's complement (-1 is `infinite`).
        let bad = || invalid(&t.span, "number of seconds", &t.text, "expected a decimal number or 'infinite'");
        let (negative, digits) = match t.text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, t.text.as_str()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let v = digits.bytes().fold(0u32, |v, b| v.wrapping_mul(10).wrapping_add(u32::from(b - b'0')));
        if !negative {
            return Ok(v);
        }
        if v > 1 << 31 {
            return Err(invalid(&t.span, "number of seconds", &t.text, "below -2147483648"));
        }
        Ok(v.wrapping_neg())
    }

    /// Consumes a decimal integer.
    fn int<N: TryFrom<i64>>(&mut self, what: &str) -> Result<N, ConfigError> {
        let t = self.word(what)?;
        options::parse_int(t, what)
    }

    /// Consumes a name written as a word or a quoted string.
    fn name(&mut self, expected: &str) -> Result<String, ConfigError> {
        match self.peek() {
            Some(t) => match &t.kind {
                TokenKind::Word => {
                    self.pos += 1;
                    Ok(t.text.clone())
                }
                TokenKind::Str(b) => {
                    self.pos += 1;
                    Ok(String::from_utf8_lossy(b).into_owned())
                }
                _ => Err(self.expected(expected)),
            },
            None => Err(self.expected(expected)),
        }
    }

    /// Consumes a quoted string.
    fn string(&mut self, expected: &str) -> Result<String, ConfigError> {
        match self.peek() {
            Some(Token { kind: TokenKind::Str(b), .. }) => {
                self.pos += 1;
                Ok(String::from_utf8_lossy(b).into_owned())
            }
            _ => Err(self.expected(expected)),
        }
    }

    /// Checks the statement ends here with `;`.
    fn end(&self) -> Result<(), ConfigError> {
        if self.peek().is_some() || !self.stmt.ends_with_semicolon() {
            return Err(self.expected("';'"));
        }
        Ok(())
    }

    /// Checks the statement ends here with a block, and returns it.
    fn block(&self) -> Result<&'s [RawStmt], ConfigError> {
        match (&self.stmt.block, self.peek()) {
            (Some(b), None) => Ok(b),
            _ => Err(self.expected("'{'")),
        }
    }
}

/// Joins token texts as they would be written (`a, b`), for messages.
fn join_tokens(tokens: &[Token]) -> String {
    let mut s = String::new();
    let mut prev: Option<&TokenKind> = None;
    for t in tokens {
        // Written as people write them: `f(a, b)`, `a != b`.
        let glued = matches!(t.kind, TokenKind::Comma | TokenKind::RParen)
            || matches!(prev, Some(TokenKind::LParen))
            || (matches!(prev, Some(TokenKind::Bang)) && t.kind == TokenKind::Equals);
        if !s.is_empty() && !glued {
            s.push(' ');
        }
        s.push_str(&t.text);
        prev = Some(&t.kind);
    }
    s
}

/// `lease-time` in a value dhcpd evaluates once the answer is built (an option's,
/// `next-server`'s): dhcpd then reads the lease's new end, the time this very answer
/// grants, which xdhcpd does not give its expressions yet.
fn lease_time_in_value(at: &Span) -> ConfigError {
    ConfigError::new(
        at,
        ErrorKind::NotYetSupported {
            statement: "lease-time".into(),
            reason: "in an option's value dhcpd reads the lease's end after this answer extends it; not supported yet (set a variable to lease-time and use the variable)".into(),
        },
    )
}

/// The statement's text, shortened, for "`...` is not supported".
fn stmt_text(stmt: &RawStmt) -> String {
    let mut s = join_tokens(&stmt.tokens);
    if s.chars().count() > 60 {
        s = s.chars().take(57).collect::<String>() + "...";
    }
    s
}

fn invalid(span: &Span, what: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::new(span, ErrorKind::InvalidValue { what: what.into(), value: value.into(), reason: reason.into() })
}

/// Decodes standard base64 (padding optional, blanks ignored).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            _ => return None,
        };
        if padding {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Less than one byte may be left over. Its bits should be zero, but dhcpd ignores
    // them, and published examples (`Ofakekeyfakekeyfakekey==`) rely on that.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

/// The parser state carried through the whole configuration.
pub(crate) struct Parser {
    options: OptionTable,
    /// `key` and `zone` declarations, in file order, wherever they were written: they
    /// are global in dhcpd whatever their scope.
    hoisted: Vec<Item>,
    /// The keys declared so far (a zone may only name a key declared before it).
    key_names: std::collections::HashSet<String>,
    /// `option space` declarations so far.
    spaces: Vec<OptionSpace>,
    /// Option definitions in those spaces: (space, lower-case name) to (code, type).
    space_defs: std::collections::HashMap<(String, String), (u32, options::OptionType)>,
    /// Options of the spaces that an option encapsulates, as expressions read them from
    /// a client's packet: (space, lower-case name) to the sub-option (kept up to date
    /// as definitions are read, so an expression sees those before it, as in dhcpd).
    space_refs: std::collections::HashMap<(String, String), crate::expr::OptionRef>,
    /// `option SPACE.NAME code N = encapsulate INNER;`: INNER to (SPACE, N), the last one
    /// for each INNER (dhcpd's `enc_opt`).
    space_encaps: std::collections::HashMap<String, (String, u32)>,
    /// `class` declarations so far, with their subclasses (global whatever their scope).
    pub classes: Vec<Class>,
    /// How many `if`/`else` blocks enclose the statements being read.
    if_depth: usize,
    /// The pool being read has an `after` permit already (dhcpd allows one).
    pool_after_seen: bool,
    /// The `subnet` and `shared-network` declarations enclosing the statements being
    /// read, innermost last (where a class is declared: see [`Class::declared_in`]).
    enclosing: Vec<Span>,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<Warning>,
    /// The `define`d functions, and the slots of names called before their definition.
    pub(crate) funcs: crate::expr::FnTable,
    /// The server's host name, for `gethostname()`.
    pub hostname: Option<Vec<u8>>,
}

impl Parser {
    pub fn new() -> Self {
        Parser {
            options: OptionTable::standard(),
            hoisted: Vec::new(),
            key_names: std::collections::HashSet::new(),
            spaces: Vec::new(),
            space_defs: std::collections::HashMap::new(),
            space_refs: std::collections::HashMap::new(),
            space_encaps: std::collections::HashMap::new(),
            classes: Vec::new(),
            if_depth: 0,
            pool_after_seen: false,
            enclosing: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            funcs: Default::default(),
            hostname: None,
        }
    }

    /// Parses the top-level statements.
    pub fn parse(&mut self, stmts: &[RawStmt]) -> Vec<Item> {
        let mut items = self.items(stmts, Scope::Global);
        // The lowest code defined in each space, over the whole file (dhcpd computes
        // it when it first needs it, after reading everything).
        // The spaces in declaration order (dhcpd's universe indexes), for the order
        // sub-encapsulations are appended in.
        let order: Vec<String> = self.spaces.iter().map(|s| s.name.clone()).collect();
        for item in &mut self.hoisted {
            if let Item::OptionSpace(space) = item {
                space.min_code =
                    self.space_defs.iter().filter(|((s, _), _)| *s == space.name).map(|(_, (code, _))| *code).min();
                space.encapsulations = order
                    .iter()
                    .filter_map(|inner| match self.space_encaps.get(inner) {
                        Some((outer, code)) if *outer == space.name => Some((*code, inner.clone())),
                        _ => None,
                    })
                    .collect();
            }
        }
        items.append(&mut self.hoisted);
        items
    }

    /// Rebuilds `space_refs` from the encapsulations and space definitions read so far.
    fn index_space_refs(&mut self) {
        let mut refs = std::collections::HashMap::new();
        for item in &self.hoisted {
            let Item::Encapsulation { code: outer, space } = item else { continue };
            let Some(sp) = self.spaces.iter().find(|s| s.name == *space) else { continue };
            for ((s, name), (code, ty)) in &self.space_defs {
                if s == space {
                    refs.insert(
                        (s.to_ascii_lowercase(), name.clone()),
                        crate::expr::OptionRef::Sub {
                            outer: *outer,
                            code: *code,
                            code_width: sp.code_width,
                            length_width: sp.length_width,
                            strip_nuls: matches!(ty, options::OptionType::Text),
                        },
                    );
                }
            }
        }
        // A space encapsulated by an option of a space that a DHCP option encapsulates
        // (`option vivso.onie code 42623 = encapsulate onie;` with `option NAME code 125 =
        // encapsulate vivso;`): its options are read through both levels.
        for (inner, (space, via)) in &self.space_encaps {
            let outer = self.hoisted.iter().rev().find_map(|i| match i {
                Item::Encapsulation { code, space: s } if s == space => Some(*code),
                _ => None,
            });
            let (Some(outer), Some(mid), Some(sp)) =
                (outer, self.spaces.iter().find(|s| s.name == *space), self.spaces.iter().find(|s| s.name == *inner))
            else {
                continue;
            };
            let via = crate::expr::SubCode { code: *via, code_width: mid.code_width, length_width: mid.length_width };
            for ((s, name), (code, ty)) in &self.space_defs {
                let key = (s.to_ascii_lowercase(), name.clone());
                if s == inner && !refs.contains_key(&key) {
                    refs.insert(
                        key,
                        crate::expr::OptionRef::Nested {
                            outer,
                            via,
                            code: crate::expr::SubCode {
                                code: *code,
                                code_width: sp.code_width,
                                length_width: sp.length_width,
                            },
                            strip_nuls: matches!(ty, options::OptionType::Text),
                        },
                    );
                }
            }
        }
        self.space_refs = refs;
    }

    /// `zone NAME { primary A[, B]; secondary ...; primary6 ...; secondary6 ...; key K; }`
    /// with dhcpd's rules: each statement at most once, the key declared before.
    fn zone(&mut self, c: &mut Cursor<'_>) -> Result<Zone, ConfigError> {
        let name_tok = c.name("a zone name")?;
        let block = c.block()?;
        let mut name = name_tok;
        if !name.ends_with('.') {
            name.push('.');
        }
        let mut zone = Zone {
            name,
            primary: Vec::new(),
            secondary: Vec::new(),
            primary6: Vec::new(),
            secondary6: Vec::new(),
            key: None,
        };
        let mut failed = None;
        for st in block {
            let r = (|| {
                let mut c = Cursor::new(st);
                let head = c.word("'primary', 'secondary', 'primary6', 'secondary6' or 'key'")?;
                let kw = head.text.to_ascii_lowercase();
                let twice = || invalid(&head.span, "zone statement", &head.text, "given twice in this zone");
                match kw.as_str() {
                    "primary" | "secondary" => {
                        let list = if kw == "primary" { &mut zone.primary } else { &mut zone.secondary };
                        if !list.is_empty() {
                            return Err(twice());
                        }
                        list.push(c.host_addr()?.0);
                        while c.peek().is_some_and(|t| t.kind == TokenKind::Comma) {
                            c.pos += 1;
                            list.push(c.host_addr()?.0);
                        }
                    }
                    "primary6" | "secondary6" => {
                        let list = if kw == "primary6" { &mut zone.primary6 } else { &mut zone.secondary6 };
                        if !list.is_empty() {
                            return Err(twice());
                        }
                        loop {
                            let t = c.word("an IPv6 address")?;
                            t.text
                                .parse::<std::net::Ipv6Addr>()
                                .map_err(|_| invalid(&t.span, "IPv6 address", &t.text, "expected an IPv6 address"))?;
                            list.push(t.text.clone());
                            if !c.peek().is_some_and(|t| t.kind == TokenKind::Comma) {
                                break;
                            }
                            c.pos += 1;
                        }
                    }
                    "key" => {
                        if zone.key.is_some() {
                            return Err(twice());
                        }
                        let t = c.peek();
                        let k = c.name("a key name")?;
                        if !self.key_names.contains(&k) {
                            let span = t.map_or(&head.span, |t| &t.span);
                            return Err(ConfigError::new(span, ErrorKind::UnknownKey { name: k }));
                        }
                        zone.key = Some(k);
                    }
                    _ => {
                        return Err(ConfigError::new(
                            &head.span,
                            ErrorKind::UnknownStatement { name: head.text.clone() },
                        ));
                    }
                }
                c.end()
            })();
            if let Err(e) = r {
                failed.get_or_insert(e);
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(zone),
        }
    }

    fn items(&mut self, stmts: &[RawStmt], scope: Scope) -> Vec<Item> {
        let mut items = Vec::new();
        let mut i = 0;
        while let Some(s) = stmts.get(i) {
            match head_word(s).as_deref() {
                Some("if") => {
                    let rest = stmts.get(i..).unwrap_or_default();
                    i += chain_len(rest);
                    match self.if_chain(rest, 1, scope) {
                        Ok(a) => items.push(Item::Dynamic(a)),
                        Err(e) => self.errors.push(e),
                    }
                }
                Some("elsif" | "else") => {
                    i += 1;
                    self.errors.push(stray_else(s));
                }
                _ => {
                    i += 1;
                    match self.stmt(s, scope) {
                        Ok(Some(item)) => items.push(item),
                        Ok(None) => {}
                        Err(e) => self.errors.push(e),
                    }
                }
            }
        }
        items
    }

    /// The statements of an `if` block or a class, as per-packet actions. Errors are
    /// collected; the actions read are returned.
    fn actions(&mut self, stmts: &[RawStmt], scope: Scope) -> Vec<Action> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(s) = stmts.get(i) {
            match head_word(s).as_deref() {
                Some("if") => {
                    let rest = stmts.get(i..).unwrap_or_default();
                    i += chain_len(rest);
                    match self.if_chain(rest, 1, scope) {
                        Ok(a) => out.push(a),
                        Err(e) => self.errors.push(e),
                    }
                    continue;
                }
                Some("elsif" | "else") => {
                    i += 1;
                    self.errors.push(stray_else(s));
                    continue;
                }
                _ => i += 1,
            }
            let action = match self.stmt(s, scope) {
                Ok(Some(item)) => match item {
                    // Decided once per request before the lease is looked up, from the
                    // unconditional statements (xdhcpd keys a client's leases by it):
                    // under an `if`, refused rather than evaluated differently.
                    Item::Param(Param::IgnoreClientUids(_)) if self.if_depth > 0 => {
                        self.errors.push(ConfigError::new(
                            &s.tokens.first().map(|t| t.span.clone()).unwrap_or_else(|| s.end.clone()),
                            ErrorKind::NotSupported {
                                statement: stmt_text(s),
                                reason: "xdhcpd decides ignore-client-uids before it evaluates conditions (it keys the client's leases by it); write it outside the `if` (in the class, host or scope)".into(),
                            },
                        ));
                        None
                    }
                    Item::Param(Param::IgnoreClientUids(v)) => Some(Action::Flag(Flag::IgnoreClientUids, v)),
                    item => item_action(&item),
                },
                Ok(None) => None,
                Err(e) => {
                    self.errors.push(e);
                    continue;
                }
            };
            // An event's statements run after the answer is built: only those with an
            // effect then (variables, logs, programs, conditions) are accepted there.
            let action = action.filter(|a| {
                scope != Scope::OnEvent
                    || matches!(
                        a,
                        Action::Set { .. }
                            | Action::Log { .. }
                            | Action::Execute { .. }
                            | Action::If { .. }
                            | Action::Eval(_)
                    )
            });
            match action {
                Some(a) => out.push(a),
                // Never accepted and dropped: a statement the per-packet engine cannot
                // execute yet is refused where it is written.
                None => self.errors.push(ConfigError::new(
                    s.span(),
                    ErrorKind::NotYetSupported {
                        statement: stmt_text(s),
                        reason: match scope {
                            Scope::OnEvent => "inside an `on` block only set, unset, log, execute and if statements are supported (the others would act after the answer is built)".to_string(),
                            _ => format!(
                                "inside {} only option (also of an option space), vendor-option-space, filename, server-name, next-server, lease time, allow/deny/ignore booting, use-host-decl-names, one-lease-per-client, update-static-leases, allow/deny/ignore duplicates, ignore-client-uids (not in an `if`), set, log, execute, on and if statements are supported yet",
                                if scope == Scope::Class { "a class" } else { "an `if` block" }
                            ),
                        },
                    },
                )),
            }
        }
        out
    }

    /// `if COND { ... }` at `stmts[0]` (the condition after `skip` head words: 1 for
    /// `if` and `elsif`, 2 for `else if`), with the `elsif`/`else` statements after it.
    fn if_chain(&mut self, stmts: &[RawStmt], skip: usize, scope: Scope) -> Result<Action, ConfigError> {
        let Some(s) = stmts.first() else {
            return Err(ConfigError::new(&Span::start_of("?"), ErrorKind::UnexpectedCloseBrace));
        };
        let (cond, block) = self.if_head(s, skip)?;
        self.if_depth += 1;
        let then = self.actions(block, scope);
        self.if_depth -= 1;
        let rest = stmts.get(1..).unwrap_or_default();
        let otherwise = match rest.first() {
            Some(next) if head_word(next).as_deref() == Some("elsif") => vec![self.if_chain(rest, 1, scope)?],
            Some(next) if head_word(next).as_deref() == Some("else") => {
                match next.tokens.get(1).and_then(Token::word).map(str::to_ascii_lowercase).as_deref() {
                    Some("if") => vec![self.if_chain(rest, 2, scope)?],
                    _ => match (&next.block, next.tokens.len()) {
                        (Some(b), 1) => {
                            self.if_depth += 1;
                            let a = self.actions(b, scope);
                            self.if_depth -= 1;
                            a
                        }
                        _ => {
                            let mut c = Cursor::new(next);
                            c.pos = 1;
                            return Err(c.expected("'{' or 'if'"));
                        }
                    },
                }
            }
            _ => Vec::new(),
        };
        Ok(Action::If { cond, then, otherwise })
    }

    /// The condition and block of `if C {` (`skip`: the words before C).
    fn if_head<'s>(&self, s: &'s RawStmt, skip: usize) -> Result<(BoolExpr, &'s [RawStmt]), ConfigError> {
        let tokens = s.tokens.get(skip..).unwrap_or_default();
        // dhcpd's parse_if_statement: a `(` right after `if` belongs to the statement, not
        // to the expression: the condition inside must be boolean and end at its `)`, and
        // the block must follow at once (`if (a) and b {` is "left brace expected" there;
        // `if (x * 2) = 3 {` "Expecting a boolean expression").
        let paren = tokens.first().is_some_and(|t| t.kind == TokenKind::LParen);
        let inner = if paren { tokens.get(1..).unwrap_or_default() } else { tokens };
        let mut p = ExprParser::new(inner, &s.end, &self.options)
            .with_spaces(&self.space_refs)
            .with_funcs(&self.funcs, self.hostname.as_deref());
        let cond = p.boolean()?;
        let mut end = p.position() + usize::from(paren);
        if paren {
            match tokens.get(end) {
                Some(t) if t.kind == TokenKind::RParen => end += 1,
                other => {
                    let at = other.map_or(&s.end, |t| &t.span);
                    let found = other.map_or_else(|| s.end_text.to_string(), Token::describe);
                    return Err(ConfigError::new(
                        at,
                        ErrorKind::Expected { expected: "')'".into(), after: stmt_text(s), found },
                    ));
                }
            }
        }
        let Some(block) = s.block.as_ref().filter(|_| end == tokens.len()) else {
            let at = tokens.get(end).map_or(&s.end, |t| &t.span);
            let found = tokens.get(end).map_or_else(|| s.end_text.to_string(), Token::describe);
            return Err(ConfigError::new(
                at,
                ErrorKind::Expected { expected: "'{'".into(), after: stmt_text(s), found },
            ));
        };
        Ok((cond, block))
    }

    /// `define NAME (ARGS) { ... }` (dhcp-eval(5)); `define NAME = EXPR;` is refused.
    fn define(&mut self, s: &RawStmt, scope: Scope) -> Result<(), ConfigError> {
        let mut c = Cursor::new(s);
        c.pos = 1;
        let name = c.word("a function name")?;
        // dhcpd: a NAME or NUMBER_OR_NAME token ("can't be a variable name" for a
        // keyword, "Bogus number" for a one-letter word).
        let usable = |w: &str| {
            w.starts_with(|c: char| c.is_ascii_alphabetic())
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !crate::keywords::is_not_inert_head(w)
        };
        if !usable(&name.text) {
            return Err(invalid(&name.span, "function name", &name.text, "a dhcpd keyword or not a name"));
        }
        if c.peek().map(|t| &t.kind) == Some(&TokenKind::Equals) {
            // dhcpd 4.4.3's execute_statements binds `define NAME = EXPR` as a function
            // whose definition is the expression's internals (it reads the expression's
            // union as a function): reading NAME is null, calling it is undefined.
            return Err(ConfigError::new(
                s.span(),
                ErrorKind::NotSupported {
                    statement: stmt_text(s),
                    reason: "dhcpd 4.4.3 binds `define NAME = EXPR` as a broken function (reading it is null, calling it undefined); use set".into(),
                },
            ));
        }
        if c.peek().map(|t| &t.kind) != Some(&TokenKind::LParen) {
            return Err(c.expected("'=' or '('"));
        }
        c.pos += 1;
        let mut params = Vec::new();
        if c.peek().map(|t| &t.kind) == Some(&TokenKind::RParen) {
            c.pos += 1;
        } else {
            loop {
                let p = c.word("an argument name")?;
                if !usable(&p.text) {
                    return Err(invalid(&p.span, "argument name", &p.text, "a dhcpd keyword or not a name"));
                }
                params.push(p.text.clone());
                match c.peek().map(|t| &t.kind) {
                    Some(TokenKind::Comma) => c.pos += 1,
                    Some(TokenKind::RParen) => {
                        c.pos += 1;
                        break;
                    }
                    _ => return Err(c.expected("',' or ')'")),
                }
            }
        }
        let Some(block) = s.block.as_ref().filter(|_| c.pos == s.tokens.len()) else {
            return Err(c.expected("'{'"));
        };
        if scope != Scope::Global {
            // dhcpd runs a scope's definitions each time it runs the scope's statements,
            // into the lease's scope: a function of a subnet or class exists for some
            // requests only. Those of the top level exist for all (run at start-up).
            return Err(ConfigError::new(
                s.span(),
                ErrorKind::NotYetSupported {
                    statement: stmt_text(s),
                    reason: "functions are supported at the top level of the file only so far".into(),
                },
            ));
        }
        let body = self.fn_body(block);
        let slot = crate::expr::fn_slot(&self.funcs, &name.text);
        if !slot.define(crate::expr::Function { params, body }) {
            return Err(ConfigError::new(
                &name.span,
                ErrorKind::NotYetSupported {
                    statement: stmt_text(s),
                    reason: "a function defined twice (dhcpd: the later definition from where it runs on) is not supported yet".into(),
                },
            ));
        }
        Ok(())
    }

    /// The statements of a function's body; errors are collected.
    fn fn_body(&mut self, stmts: &[RawStmt]) -> Vec<FnStmt> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(s) = stmts.get(i) {
            if head_word(s).as_deref() == Some("if") {
                let rest = stmts.get(i..).unwrap_or_default();
                i += chain_len(rest);
                match self.fn_if_chain(rest, 1) {
                    Ok(f) => out.push(f),
                    Err(e) => self.errors.push(e),
                }
                continue;
            }
            i += 1;
            match self.fn_stmt(s) {
                Ok(f) => out.push(f),
                Err(e) => self.errors.push(e),
            }
        }
        out
    }

    fn fn_if_chain(&mut self, stmts: &[RawStmt], skip: usize) -> Result<FnStmt, ConfigError> {
        let Some(s) = stmts.first() else {
            return Err(ConfigError::new(&Span::start_of("?"), ErrorKind::UnexpectedCloseBrace));
        };
        let (cond, block) = self.if_head(s, skip)?;
        let then = self.fn_body(block);
        let rest = stmts.get(1..).unwrap_or_default();
        let otherwise = match rest.first() {
            Some(next) if head_word(next).as_deref() == Some("elsif") => vec![self.fn_if_chain(rest, 1)?],
            Some(next) if head_word(next).as_deref() == Some("else") => {
                match next.tokens.get(1).and_then(Token::word).map(str::to_ascii_lowercase).as_deref() {
                    Some("if") => vec![self.fn_if_chain(rest, 2)?],
                    _ => match (&next.block, next.tokens.len()) {
                        (Some(b), 1) => self.fn_body(b),
                        _ => {
                            let mut c = Cursor::new(next);
                            c.pos = 1;
                            return Err(c.expected("'{' or 'if'"));
                        }
                    },
                }
            }
            _ => Vec::new(),
        };
        Ok(FnStmt::If { cond, then, otherwise })
    }

    /// An expression of any type from `tokens` (of `s`), to the end of the statement.
    fn any_to_end(&self, s: &RawStmt, from: usize) -> Result<AnyExpr, ConfigError> {
        let tokens = s.tokens.get(from..).unwrap_or_default();
        let mut p = ExprParser::new(tokens, &s.end, &self.options)
            .with_spaces(&self.space_refs)
            .with_funcs(&self.funcs, self.hostname.as_deref());
        let e = p.any()?;
        let mut c = Cursor::new(s);
        c.pos = from + p.position();
        c.end()?;
        Ok(e)
    }

    /// One statement of a function's body: `set`, `unset`, `return`, `eval`, a call.
    fn fn_stmt(&mut self, s: &RawStmt) -> Result<FnStmt, ConfigError> {
        let mut c = Cursor::new(s);
        let word = head_word(s).unwrap_or_default();
        match word.as_str() {
            "set" | "unset" => {
                c.pos = 1;
                let name = c.word("a variable name")?.text.clone();
                if word == "unset" {
                    c.end()?;
                    return Ok(FnStmt::Unset(name));
                }
                if c.peek().map(|t| &t.kind) != Some(&TokenKind::Equals) {
                    return Err(c.expected("'='"));
                }
                Ok(FnStmt::Set { name, expr: self.any_to_end(s, c.pos + 1)? })
            }
            "return" => Ok(FnStmt::Return(self.any_to_end(s, 1)?)),
            "log" => match self.log(s)? {
                Action::Log { level, expr } => Ok(FnStmt::Log { level, expr }),
                _ => Err(c.expected("log (PRIORITY, EXPR)")),
            },
            "execute" => match self.execute(s)? {
                Action::Execute { program, args } => Ok(FnStmt::Execute { program, args }),
                _ => Err(c.expected("execute (\"PROGRAM\", EXPR, ...)")),
            },
            "eval" => Ok(FnStmt::Eval(self.any_to_end(s, 1)?)),
            "switch" => {
                let (value, arms) = self.switch_arms(s)?;
                let arms = arms
                    .into_iter()
                    .map(|(label, stmts, breaks)| crate::expr::FnArm { label, body: self.fn_body(&stmts), breaks })
                    .collect();
                Ok(FnStmt::Switch { value, arms })
            }
            "on" => match self.stmt(s, Scope::Global)? {
                Some(Item::Dynamic(Action::On { events, block })) => Ok(FnStmt::On { events, block }),
                _ => Err(c.expected("on EVENT { ... }")),
            },
            _ if s.block.is_none() && s.tokens.get(1).is_some_and(|t| t.kind == TokenKind::LParen) && is_call_head(s) => {
                Ok(FnStmt::Eval(self.any_to_end(s, 0)?))
            }
            _ => Err(ConfigError::new(
                s.span(),
                ErrorKind::NotYetSupported {
                    statement: stmt_text(s),
                    reason: "inside a function only set, unset, return, eval, log, execute, on, switch, function calls and if statements are supported yet".into(),
                },
            )),
        }
    }

    /// `switch (EXPR) { case VALUE: statements [break;] ... default: statements }`. The
    /// first stage cut the block at `;`, so a label is the start of a statement:
    /// `case "a": max-lease-time 60;` (the lexer keeps a `:` in the word before it).
    fn switch(&mut self, s: &RawStmt, scope: Scope) -> Result<Action, ConfigError> {
        let (value, arms) = self.switch_arms(s)?;
        let mut out = Vec::with_capacity(arms.len());
        for (label, stmts, breaks) in arms {
            self.if_depth += 1;
            let actions = self.actions(&stmts, scope);
            self.if_depth -= 1;
            out.push(crate::model::SwitchArm { label, actions, breaks });
        }
        Ok(Action::Switch { value, arms: out })
    }

    /// A `switch`'s value and its arms: each label (`None`: `default`), its statements
    /// up to a `break`, and whether a `break` ends them.
    #[allow(clippy::type_complexity)]
    fn switch_arms(
        &mut self,
        s: &RawStmt,
    ) -> Result<(crate::model::SwitchValue, Vec<(Option<crate::model::SwitchValue>, Vec<RawStmt>, bool)>), ConfigError>
    {
        let tokens = s.tokens.get(1..).unwrap_or_default();
        if tokens.first().map(|t| &t.kind) != Some(&TokenKind::LParen) {
            let mut c = Cursor::new(s);
            c.pos = 1;
            return Err(c.expected("'('"));
        }
        let mut p = ExprParser::new(tokens, &s.end, &self.options)
            .with_spaces(&self.space_refs)
            .with_funcs(&self.funcs, self.hostname.as_deref());
        let value = match p.switch_value(true)? {
            // A variable or a call is no data expression to dhcpd (is_data_expression):
            // its cases are read as numbers and it is evaluated as a number (a data value
            // matches no case).
            crate::model::SwitchValue::Data(crate::expr::DataExpr::Variable(name)) => {
                crate::model::SwitchValue::Num(crate::expr::NumExpr::Variable(name))
            }
            crate::model::SwitchValue::Data(crate::expr::DataExpr::Call(c)) => {
                crate::model::SwitchValue::Num(crate::expr::NumExpr::Call(c))
            }
            v => v,
        };
        let Some(block) = s.block.as_ref().filter(|_| p.position() == tokens.len()) else {
            let mut c = Cursor::new(s);
            c.pos = 1 + p.position();
            return Err(c.expected("'{'"));
        };
        // dhcpd reads the cases as data when the value is data, else as numbers.
        let numeric = !matches!(value, crate::model::SwitchValue::Data(_));
        // Each arm: its label and its statements (cut at a `break`).
        let mut arms: Vec<(Option<crate::model::SwitchValue>, Vec<RawStmt>, bool)> = Vec::new();
        for st in block {
            let head = head_word(st);
            let (label, rest): (Option<Option<crate::model::SwitchValue>>, Vec<Token>) = match head.as_deref() {
                Some("case") => {
                    // The label runs up to the `:` (a word of its own, or the end of one).
                    let Some(colon) = st.tokens.iter().position(|t| t.text.ends_with(':')).filter(|i| *i > 0) else {
                        let mut c = Cursor::new(st);
                        c.pos = st.tokens.len();
                        return Err(c.expected("':' after the case's value"));
                    };
                    let mut label: Vec<Token> = st.tokens.get(1..=colon).unwrap_or_default().to_vec();
                    if let Some(last) = label.last_mut() {
                        last.text.pop();
                        if last.text.is_empty() {
                            label.pop();
                        }
                    }
                    // dhcpd's lexer reads `:` as a token of its own, so a colon-separated
                    // hex value runs into the case's `:` ("expecting hexadecimal number").
                    if label.last().is_some_and(|t| t.kind == TokenKind::Word && t.text.contains(':')) {
                        return Err(invalid(
                            st.span(),
                            "case",
                            &stmt_text(st),
                            "a colon-separated hex value cannot end a case label (dhcpd reads its `:` as more hex)",
                        ));
                    }
                    let mut lp = ExprParser::new(&label, &st.end, &self.options)
                        .with_spaces(&self.space_refs)
                        .with_funcs(&self.funcs, self.hostname.as_deref());
                    let v = match lp.switch_value(numeric)? {
                        // A variable (or call) has no type until evaluated: in a numeric
                        // switch's case, dhcpd evaluates it as a number (`case true:`).
                        crate::model::SwitchValue::Data(crate::expr::DataExpr::Variable(name)) if numeric => {
                            crate::model::SwitchValue::Num(crate::expr::NumExpr::Variable(name))
                        }
                        crate::model::SwitchValue::Data(crate::expr::DataExpr::Call(c)) if numeric => {
                            crate::model::SwitchValue::Num(crate::expr::NumExpr::Call(c))
                        }
                        v => v,
                    };
                    // dhcpd checks no type here: a case of another type than the switch
                    // is accepted and never matches.
                    if lp.position() != label.len() {
                        return Err(invalid(st.span(), "case", &stmt_text(st), "a case's value is one expression"));
                    }
                    (Some(Some(v)), st.tokens.get(colon + 1..).unwrap_or_default().to_vec())
                }
                Some("default") | Some("default:") => {
                    let skip = if head.as_deref() == Some("default:") {
                        1
                    } else if st.tokens.get(1).is_some_and(|t| t.text == ":") {
                        2
                    } else {
                        let mut c = Cursor::new(st);
                        c.pos = 1;
                        return Err(c.expected("':'"));
                    };
                    (Some(None), st.tokens.get(skip..).unwrap_or_default().to_vec())
                }
                _ => (None, st.tokens.clone()),
            };
            if let Some(label) = label {
                arms.push((label, Vec::new(), false));
            }
            let Some(arm) = arms.last_mut() else {
                // Execution starts at a case: dhcpd accepts these and never runs them.
                self.warnings.push(Warning {
                    span: st.span().clone(),
                    kind: WarningKind::NoEffect {
                        statement: stmt_text(st),
                        reason: "before the first case of a switch, it never runs (as in dhcpd)".into(),
                    },
                });
                continue;
            };
            if rest.is_empty() && st.block.is_none() {
                continue;
            }
            if rest.first().and_then(Token::word).is_some_and(|w| w.eq_ignore_ascii_case("break")) && rest.len() == 1 {
                arm.2 = true;
                continue;
            }
            // Statements after a `break` never run, in dhcpd as here.
            if !arm.2 {
                arm.1.push(RawStmt {
                    tokens: rest,
                    end: st.end.clone(),
                    end_text: st.end_text,
                    block: st.block.clone(),
                });
            }
        }
        Ok((value, arms))
    }

    /// `execute ("PROGRAM", EXPR, ...);` (dhcpd.conf(5)): the program a string, the
    /// arguments data expressions.
    fn execute(&self, s: &RawStmt) -> Result<Action, ConfigError> {
        let mut c = Cursor::new(s);
        c.pos = 1;
        if c.peek().map(|t| &t.kind) != Some(&TokenKind::LParen) {
            return Err(c.expected("'('"));
        }
        c.pos += 1;
        let program = c.string("the quoted path of a program")?;
        let mut args = Vec::new();
        while c.peek().map(|t| &t.kind) == Some(&TokenKind::Comma) {
            c.pos += 1;
            let tokens = s.tokens.get(c.pos..).unwrap_or_default();
            let mut p = ExprParser::new(tokens, &s.end, &self.options)
                .with_spaces(&self.space_refs)
                .with_funcs(&self.funcs, self.hostname.as_deref());
            args.push(p.data_arg()?);
            c.pos += p.position();
        }
        if c.peek().map(|t| &t.kind) != Some(&TokenKind::RParen) {
            return Err(c.expected("')'"));
        }
        c.pos += 1;
        c.end()?;
        Ok(Action::Execute { program, args })
    }

    /// `log (PRIORITY, EXPR);` or `log (EXPR);` (dhcp-eval(5); priority info by default).
    fn log(&self, s: &RawStmt) -> Result<Action, ConfigError> {
        let tokens = s.tokens.get(1..).unwrap_or_default();
        let mut c = Cursor::new(s);
        c.pos = 1;
        if tokens.first().map(|t| &t.kind) != Some(&TokenKind::LParen) {
            return Err(c.expected("'('"));
        }
        let priority = tokens.get(1).and_then(Token::word).map(str::to_ascii_lowercase);
        let has_priority = tokens.get(2).is_some_and(|t| t.kind == TokenKind::Comma)
            && matches!(priority.as_deref(), Some("fatal" | "error" | "info" | "debug"));
        let level = match priority.as_deref().filter(|_| has_priority) {
            Some("fatal") => {
                // dhcpd's log_fatal ends the server: a client's packet must not do that.
                return Err(ConfigError::new(
                    s.span(),
                    ErrorKind::NotSupported {
                        statement: stmt_text(s),
                        reason: "a fatal log makes dhcpd exit; use error".into(),
                    },
                ));
            }
            Some("error") => LogLevel::Error,
            Some("debug") => LogLevel::Debug,
            _ => LogLevel::Info,
        };
        let start = if has_priority { 3 } else { 1 };
        let inner = tokens.get(start..).unwrap_or_default();
        let mut p = ExprParser::new(inner, &s.end, &self.options)
            .with_spaces(&self.space_refs)
            .with_funcs(&self.funcs, self.hostname.as_deref());
        let expr = p.data_arg()?;
        c.pos = 1 + start + p.position();
        if c.peek().map(|t| &t.kind) != Some(&TokenKind::RParen) {
            return Err(c.expected("')'"));
        }
        c.pos += 1;
        c.end()?;
        Ok(Action::Log { level, expr })
    }

    /// `class "NAME" { match if ...; match ...; statements }`. A class declared again
    /// is reopened, as dhcpd's parse_class_declaration does: it keeps its place in the
    /// classification order, a `match if`, `match`/`spawn with` or `lease limit` of the
    /// new declaration replaces the class's, and its statements are added after the
    /// class's own.
    fn class(&mut self, name: String, block: &[RawStmt], scope: Scope) -> Result<(), ConfigError> {
        let existing = self.classes.iter().position(|c| c.name == name);
        let mut class = match existing.and_then(|i| self.classes.get(i)) {
            Some(c) => c.clone(),
            None => Class {
                name,
                match_if: None,
                submatch: None,
                spawning: false,
                lease_limit: None,
                subclasses: Vec::new(),
                actions: Vec::new(),
                // dhcpd clones the enclosing scope's group for the class: the first
                // declaration's scope is the one its members run again.
                declared_in: matches!(scope, Scope::Subnet | Scope::SharedNetwork)
                    .then(|| self.enclosing.last().cloned())
                    .flatten(),
                enclosing: Vec::new(),
            },
        };
        // dhcpd: one `match if`, and one of `match EXPR` / `spawn with`, per declaration.
        let (mut matched, mut submatched) = (false, false);
        let mut rest: Vec<RawStmt> = Vec::new();
        for s in block {
            match head_word(s).as_deref() {
                Some(head @ ("match" | "spawn")) => {
                    let r = (|| {
                        let second = s.tokens.get(1).and_then(Token::word).map(str::to_ascii_lowercase);
                        let is_if = head == "match" && second.as_deref() == Some("if");
                        let spawn = head == "spawn";
                        if spawn && second.as_deref() != Some("with") {
                            let mut c = Cursor::new(s);
                            c.pos = 1;
                            return Err(c.expected("'with'"));
                        }
                        let twice = if is_if { matched } else { submatched };
                        if twice {
                            let what = if is_if { "match if" } else { "match/spawn with" };
                            return Err(invalid(s.span(), "class statement", what, "a class has only one"));
                        }
                        let skip = if is_if || spawn { 2 } else { 1 };
                        let tokens = s.tokens.get(skip..).unwrap_or_default();
                        let mut p = ExprParser::new(tokens, &s.end, &self.options)
                            .with_spaces(&self.space_refs)
                            .with_funcs(&self.funcs, self.hostname.as_deref());
                        if is_if {
                            class.match_if = Some(p.boolean()?);
                            matched = true;
                        } else {
                            class.submatch = Some(p.data_arg()?);
                            // dhcpd sets `spawning` for `spawn with` and never clears it.
                            class.spawning |= spawn;
                            submatched = true;
                        }
                        let mut c = Cursor::new(s);
                        c.pos = p.position() + skip;
                        c.end()
                    })();
                    if let Err(e) = r {
                        self.errors.push(e);
                    }
                }
                Some("lease") => match lease_limit(s) {
                    Ok(n) => class.lease_limit = Some(n),
                    Err(e) => self.errors.push(e),
                },
                _ => rest.push(s.clone()),
            }
        }
        let actions = self.actions(&rest, Scope::Class);
        class.actions.extend(actions);
        match existing.and_then(|i| self.classes.get_mut(i)) {
            Some(slot) => *slot = class,
            None => self.classes.push(class),
        }
        Ok(())
    }

    /// `subclass "CLASS" DATA;` or `subclass "CLASS" DATA { statements }`.
    fn subclass(&mut self, c: &mut Cursor<'_>) -> Result<(), ConfigError> {
        let name_tok = c.peek();
        let name = c.string("a quoted class name")?;
        let index = self.classes.iter().position(|k| k.name == name).ok_or_else(|| {
            let span = name_tok.map_or(&c.stmt.end, |t| &t.span);
            invalid(span, "class", &name, "no such class (a class is declared before its subclasses)")
        })?;
        let t = c.next().ok_or_else(|| c.expected("the subclass's value (a string or colon-separated hex)"))?;
        let data = match &t.kind {
            TokenKind::Str(b) => b.clone(),
            _ => options::parse_hex_bytes(&t.text).ok_or_else(|| {
                invalid(&t.span, "subclass value", &t.text, "expected a string or colon-separated hex bytes")
            })?,
        };
        // A subclass has its class's lease limit unless it sets its own (dhcpd).
        let mut limit = self.classes.get(index).and_then(|k| k.lease_limit);
        let actions = match &c.stmt.block {
            Some(b) if c.peek().is_none() => {
                let mut rest = Vec::new();
                for s in b {
                    if head_word(s).as_deref() == Some("lease") {
                        match lease_limit(s) {
                            Ok(n) => limit = Some(n),
                            Err(e) => self.errors.push(e),
                        }
                    } else {
                        rest.push(s.clone());
                    }
                }
                self.actions(&rest, Scope::Class)
            }
            _ => {
                c.end()?;
                Vec::new()
            }
        };
        if let Some(class) = self.classes.get_mut(index) {
            class.subclasses.push(Subclass { data, actions, lease_limit: limit });
        }
        Ok(())
    }

    /// `allow X;` / `deny X;` in a pool: a permit, as dhcpd's get_permit reads it.
    fn permit(&mut self, c: &mut Cursor<'_>, allow: bool) -> Result<Option<Item>, ConfigError> {
        let s = c.stmt;
        let words: Vec<String> =
            s.tokens.iter().skip(1).filter_map(|t| t.word().map(str::to_ascii_lowercase)).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let permit = match words.as_slice() {
            ["unknown-clients"] | ["unknown", "clients"] => Permit::UnknownClients,
            ["known-clients"] | ["known", "clients"] => Permit::KnownClients,
            ["all", "clients"] => Permit::AllClients,
            ["dynamic", "bootp", "clients"] => Permit::DynamicBootpClients,
            ["members", "of"] => {
                let name_tok = s.tokens.get(3);
                c.pos = 3;
                let name = c.string("a quoted class name")?;
                let index =
                    self.classes.iter().position(|k| k.name == name).ok_or_else(|| {
                        invalid(name_tok.map_or(&s.end, |t| &t.span), "class", &name, "no such class")
                    })?;
                Permit::Members(index)
            }
            ["authenticated", "clients"] => Permit::AuthenticatedClients,
            ["unauthenticated", "clients"] => Permit::UnauthenticatedClients,
            ["after", ..] => {
                // dhcpd: a permit from that date on, and the pool's valid_from (allow) or
                // valid_until (deny), which also caps the lease times it gives; one per
                // pool, allow or deny.
                let at = s.tokens.get(1).map_or(&s.end, |t| &t.span);
                if std::mem::replace(&mut self.pool_after_seen, true) {
                    return Err(invalid(at, "permit", "after", "duplicate \"after\" clause"));
                }
                let texts: Vec<&str> = s.tokens.iter().skip(2).map(|t| t.text.as_str()).collect();
                let t = dhcpd_date(&texts).map_err(|why| invalid(at, "date", &texts.join(" "), why))?;
                return Ok(Some(Item::Permit { allow, permit: Permit::After(t) }));
            }
            ["client-updates"] => {
                return Err(ConfigError::new(
                    s.span(),
                    ErrorKind::NotAllowedHere {
                        statement: "client-updates".into(),
                        scope: Scope::Pool.describe().into(),
                    },
                ));
            }
            _ => {
                c.pos = 1;
                return Err(c.expected("a permit type (known-clients, unknown-clients, all clients, dynamic bootp clients, members of \"CLASS\")"));
            }
        };
        c.pos = s.tokens.len();
        c.end()?;
        Ok(Some(Item::Permit { allow, permit }))
    }

    /// Errors unless `scope` is one of `allowed`.
    fn allow(stmt: &RawStmt, name: &str, scope: Scope, allowed: &[Scope]) -> Result<(), ConfigError> {
        if allowed.contains(&scope) {
            Ok(())
        } else {
            Err(ConfigError::new(
                stmt.span(),
                ErrorKind::NotAllowedHere { statement: name.into(), scope: scope.describe().into() },
            ))
        }
    }

    fn stmt(&mut self, s: &RawStmt, scope: Scope) -> Result<Option<Item>, ConfigError> {
        use Scope as S;
        let mut c = Cursor::new(s);
        let Some(head) = c.next() else {
            // `{ ... }` with nothing before it.
            return Err(c.expected("a statement"));
        };
        let Some(word) = head.word() else {
            return Err(ConfigError::new(
                &head.span,
                ErrorKind::Expected { expected: "a statement".into(), after: String::new(), found: head.describe() },
            ));
        };
        let kw = word.to_ascii_lowercase();
        if s.tokens.get(1).is_some_and(|t| t.kind == TokenKind::Equals) && crate::keywords::is_server_option(&kw) {
            // dhcpd sets a server option from an expression this way (evaluated for
            // each client): the BOOTP header fields, the lease times and ddns-hostname
            // are, the other parameters not yet.
            if matches!(kw.as_str(), "filename" | "server-name" | "next-server") {
                let (expr, lease_time_at) = self.parameter_expr(s, &mut c)?;
                // dhcpd evaluates next-server's once the lease is extended (filename's and
                // server-name's before, as the statements).
                if kw == "next-server"
                    && let Some(at) = lease_time_at
                {
                    return Err(lease_time_in_value(&at));
                }
                let field = match kw.as_str() {
                    "filename" => HeaderField::Filename,
                    "server-name" => HeaderField::ServerName,
                    _ => HeaderField::NextServer,
                };
                return Ok(Some(Item::Dynamic(Action::HeaderExpr { field, expr: std::sync::Arc::new(expr) })));
            }
            if let Some(target) = match kw.as_str() {
                "default-lease-time" => Some(Target::DefaultLeaseTime),
                "max-lease-time" => Some(Target::MaxLeaseTime),
                "min-lease-time" => Some(Target::MinLeaseTime),
                _ => None,
            } {
                let (expr, _) = self.parameter_expr(s, &mut c)?;
                return Ok(Some(Item::Dynamic(Action::LeaseTimeExpr { target, expr })));
            }
            if kw == "ddns-hostname" {
                // The name's host part, computed for each client (e.g. from its hardware
                // address), as dhcpd's own default is an expression.
                let (expr, _) = self.parameter_expr(s, &mut c)?;
                return Ok(Some(Item::Dynamic(Action::DdnsHostNameExpr(expr))));
            }
            if let Some(param) = crate::model::ExprParam::from_name(&kw) {
                // Parameters dhcpd reads per client where it pings an address or plans
                // a DNS update: the value is the parameter's stored form (see ExprParam).
                let (expr, _) = self.parameter_expr(s, &mut c)?;
                return Ok(Some(Item::Dynamic(Action::ParamExpr { param, expr })));
            }
            // The others are read once (at start, for a subnet or the whole server), or
            // in dhcpd code paths xdhcpd has no equivalent of: refused by name rather
            // than evaluated at a different time.
            return Err(ConfigError::new(
                &head.span,
                ErrorKind::NotYetSupported {
                    statement: stmt_text(s),
                    reason: "a parameter set from an expression, for this parameter (xdhcpd evaluates filename, server-name, next-server, ddns-hostname, ddns-domainname, ddns-rev-domainname, ddns-ttl, default-/max-/min-lease-time, ping-check, ping-timeout, ping-timeout-ms, ping-cltt-secs, use-host-decl-names, one-lease-per-client, update-static-leases and duplicates per client)".into(),
                },
            ));
        }
        let param = |p: Param, c: &Cursor<'_>| -> Result<Option<Item>, ConfigError> {
            c.end()?;
            Ok(Some(Item::Param(p)))
        };
        let ddns = |p: DdnsParam, c: &Cursor<'_>| param(Param::Ddns(p), c);
        match kw.as_str() {
            "default-lease-time" => {
                // dhcpd's lease time format (`T`): `infinite`, and -1 for it too.
                let v = c.lease_time()?;
                param(Param::DefaultLeaseTime(v), &c)
            }
            "max-lease-time" => {
                // dhcpd's lease time format (`T`): `infinite`, and -1 for it too.
                let v = c.lease_time()?;
                param(Param::MaxLeaseTime(v), &c)
            }
            "min-lease-time" => {
                // dhcpd's lease time format (`T`): `infinite`, and -1 for it too.
                let v = c.lease_time()?;
                param(Param::MinLeaseTime(v), &c)
            }
            "ping-timeout" => {
                let v = c.int("a number of seconds")?;
                param(Param::PingTimeout(v), &c)
            }
            "ping-timeout-ms" => {
                let v = c.int("a number of milliseconds")?;
                param(Param::PingTimeoutMs(v), &c)
            }
            "ping-cltt-secs" => {
                let v = c.int("a number of seconds")?;
                param(Param::PingClttSecs(v), &c)
            }
            "authoritative" => param(Param::Authoritative(true), &c),
            "not" => {
                c.keyword("authoritative")?;
                param(Param::Authoritative(false), &c)
            }
            "server-identifier" => {
                let (a, _) = c.host_addr()?;
                param(Param::ServerIdentifier(a), &c)
            }
            "next-server" => {
                let (a, _) = c.host_addr()?;
                param(Param::NextServer(a), &c)
            }
            "filename" => {
                let v = c.string("a quoted file name")?;
                param(Param::Filename(v), &c)
            }
            "server-name" => {
                let v = c.string("a quoted server name")?;
                param(Param::ServerName(v), &c)
            }
            "log-facility" => {
                let v = c.word("a syslog facility")?.text.clone();
                param(Param::LogFacility(v), &c)
            }
            "ping-check"
            | "one-lease-per-client"
            | "get-lease-hostnames"
            | "use-host-decl-names"
            | "ignore-client-uids" => {
                // dhcpd's flag format wants a value: `ping-check;` is an error there.
                let v = c.flag()?;
                // xdhcpd knows a client's leases by the key this flag chooses, before it
                // picks a pool: in a pool it would come too late to be the same as dhcpd.
                if kw == "ignore-client-uids" && scope == Scope::Pool {
                    return Err(ConfigError::new(
                        &head.span,
                        ErrorKind::NotSupported {
                            statement: stmt_text(s),
                            reason: "xdhcpd decides ignore-client-uids before it picks a pool; write it in the subnet, shared-network, class or host".into(),
                        },
                    ));
                }
                let p = match kw.as_str() {
                    "ping-check" => Param::PingCheck(v),
                    "one-lease-per-client" => Param::OneLeasePerClient(v),
                    "get-lease-hostnames" => Param::GetLeaseHostnames(v),
                    "ignore-client-uids" => Param::IgnoreClientUids(v),
                    _ => Param::UseHostDeclNames(v),
                };
                param(p, &c)
            }
            "ddns-update-style" => {
                let t = c.word("'none', 'interim' or 'standard'")?;
                // dhcpd looks enumeration values up case-sensitively.
                let style = match t.text.as_str() {
                    "none" => DdnsUpdateStyle::None,
                    "interim" => DdnsUpdateStyle::Interim,
                    "standard" => DdnsUpdateStyle::Standard,
                    // dhcpd 4.4 parses it, then refuses to start if it is still the
                    // global style after the whole file ("ddns-update-style ad_hoc no
                    // longer supported"), `-t` included: validation refuses it then.
                    "ad-hoc" => DdnsUpdateStyle::AdHoc,
                    _ => {
                        return Err(invalid(
                            &t.span,
                            "ddns-update-style",
                            &t.text,
                            "expected none, interim or standard",
                        ));
                    }
                };
                c.end()?;
                Ok(Some(Item::DdnsUpdateStyle(style, head.span.clone())))
            }
            "ddns-updates" => ddns(DdnsParam::Updates(c.flag()?), &c),
            "do-forward-updates" => ddns(DdnsParam::DoForwardUpdates(c.flag()?), &c),
            "update-optimization" => ddns(DdnsParam::UpdateOptimization(c.flag()?), &c),
            "update-conflict-detection" => ddns(DdnsParam::UpdateConflictDetection(c.flag()?), &c),
            "ddns-guard-id-must-match" => ddns(DdnsParam::GuardIdMustMatch(c.flag()?), &c),
            "ddns-other-guard-is-dynamic" => ddns(DdnsParam::OtherGuardIsDynamic(c.flag()?), &c),
            "ddns-dual-stack-mixed-mode" => ddns(DdnsParam::DualStackMixedMode(c.flag()?), &c),
            "do-reverse-updates" => ddns(DdnsParam::DoReverseUpdates(c.flag()?), &c),
            "fqdn-reply" => ddns(DdnsParam::FqdnReply(c.flag()?), &c),
            "ddns-local-address6" => {
                let t = c.word("an IPv6 address")?;
                let a = t
                    .text
                    .parse::<std::net::Ipv6Addr>()
                    .map_err(|_| invalid(&t.span, "IPv6 address", &t.text, "expected an IPv6 address"))?;
                ddns(DdnsParam::LocalAddress6(a), &c)
            }
            "update-static-leases" => param(Param::UpdateStaticLeases(c.flag()?), &c),
            "ddns-domainname" => ddns(DdnsParam::DomainName(c.text()?), &c),
            "ddns-rev-domainname" => ddns(DdnsParam::RevDomainName(c.text()?), &c),
            "ddns-hostname" => ddns(DdnsParam::HostName(c.text()?), &c),
            "ddns-ttl" => ddns(DdnsParam::Ttl(c.lease_time()?), &c),
            "ddns-local-address4" => {
                let (a, _) = c.host_addr()?;
                ddns(DdnsParam::LocalAddress4(a), &c)
            }
            "site-option-space" => {
                // dhcpd's format here is string or hex data: the space's name.
                let t = c.next().ok_or_else(|| c.expected("a quoted option space name"))?;
                let name = options::encode(options::OptionType::String, std::slice::from_ref(t), &t.span)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| invalid(&t.span, "option space name", &t.text, "expected a quoted name"))?;
                // dhcpd looks the space up when it answers, and answers nobody in this
                // scope when it does not exist; refuse that at load instead.
                if !self.spaces.iter().any(|s| s.name == name) {
                    return Err(ConfigError::new(&t.span, ErrorKind::UnknownOptionSpace { name }));
                }
                param(Param::SiteOptionSpace(name), &c)
            }
            "vendor-option-space" => {
                let t = c.word("an option space name")?;
                if !options::is_dhcpd_identifier(&t.text) {
                    return Err(invalid(&t.span, "option space name", &t.text, "expected a name"));
                }
                // dhcpd takes any name here; a space that does not exist gives no option
                // 43 (it logs "option space ... does not exist" when answering).
                param(Param::VendorOptionSpace(t.text.clone()), &c)
            }
            "abandon-lease-time" => {
                let v = c.lease_time()?;
                c.end()?;
                Ok(Some(Item::AbandonLeaseTime(v, head.span.clone())))
            }
            "db-time-format" => {
                let t = c.word("'default' or 'local'")?;
                let local = match t.text.to_ascii_lowercase().as_str() {
                    "default" => false,
                    "local" => true,
                    _ => return Err(invalid(&t.span, "db-time-format", &t.text, "expected default or local")),
                };
                c.end()?;
                // dhcpd sets it for the whole process when it reads it, in any scope.
                self.hoisted.push(Item::DbTimeFormat(local));
                Ok(None)
            }
            "zone" => {
                // Like keys, zones are global whatever scope they are written in.
                let zone = self.zone(&mut c)?;
                self.hoisted.push(Item::Zone(zone));
                Ok(None)
            }
            "ignore" => {
                let what: Vec<String> = c.rest().iter().map(|t| t.text.to_ascii_lowercase()).collect();
                match what.join(" ").as_str() {
                    "client-updates" => ddns(DdnsParam::ClientUpdates(ClientUpdates::Ignore), &c),
                    // dhcpd ignores the client without logging it; the effect on the
                    // answer is deny's.
                    "booting" => param(Param::AllowBooting(false), &c),
                    "duplicates" => param(Param::Duplicates(false), &c),
                    "" => Err(c.expected("what to ignore")),
                    _ => Err(ConfigError::new(&head.span, ErrorKind::Unsupported { statement: stmt_text(s) })),
                }
            }
            "allow" | "deny" if scope == S::Pool => self.permit(&mut c, kw == "allow"),
            "log" => self.log(s).map(|a| Some(Item::Dynamic(a))),
            "switch" => self.switch(s, scope).map(|a| Some(Item::Dynamic(a))),
            "execute" => self.execute(s).map(|a| Some(Item::Dynamic(a))),
            "on" => {
                let mut events = crate::model::Events::default();
                let words: Vec<&Token> = s.tokens.iter().skip(1).collect();
                for (i, t) in words.iter().enumerate() {
                    let w = t.word().map(str::to_ascii_lowercase).unwrap_or_default();
                    let ok = match (i % 2, w.as_str()) {
                        (0, "commit") => {
                            events.commit = true;
                            true
                        }
                        (0, "release") => {
                            events.release = true;
                            true
                        }
                        (0, "expiry") => {
                            events.expiry = true;
                            true
                        }
                        (1, "or") => true,
                        _ => false,
                    };
                    if !ok || (i % 2 == 1 && i + 1 == words.len()) {
                        c.pos = i + 1;
                        return Err(c.expected("commit, release or expiry (joined by 'or')"));
                    }
                }
                if words.is_empty() {
                    return Err(c.expected("commit, release or expiry"));
                }
                c.pos = s.tokens.len();
                let block = c.block()?;
                let source = crate::syntax::statements_text(block);
                let actions = self.actions(block, Scope::OnEvent);
                let block = std::sync::Arc::new(crate::model::OnBlock { source, actions });
                Ok(Some(Item::Dynamic(Action::On { events, block })))
            }
            "define" => {
                self.define(s, scope)?;
                Ok(None)
            }
            // `eval EXPR;` evaluates and discards; so does `return EXPR;` outside a
            // function (dhcpd runs it with no result to fill), and a bare call.
            "eval" | "return" => Ok(Some(Item::Dynamic(Action::Eval(self.any_to_end(s, 1)?)))),
            "set" | "unset" => {
                let name_tok = c.word("a variable name")?;
                // dhcpd takes any name or number-like word here (`set x`, `set ab`),
                // even those it cannot read back in an expression.
                let is_name = name_tok.text.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name_tok.text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !is_name {
                    return Err(invalid(&name_tok.span, "variable name", &name_tok.text, "expected a name"));
                }
                let expr = if kw == "set" {
                    match c.peek() {
                        Some(t) if t.kind == TokenKind::Equals => c.pos += 1,
                        _ => return Err(c.expected("'='")),
                    }
                    let tokens = s.tokens.get(c.pos..).unwrap_or_default();
                    let mut p = ExprParser::new(tokens, &s.end, &self.options)
                        .with_spaces(&self.space_refs)
                        .with_funcs(&self.funcs, self.hostname.as_deref());
                    let e = p.set_value()?;
                    c.pos += p.position();
                    Some(e)
                } else {
                    None
                };
                c.end()?;
                Ok(Some(Item::Dynamic(Action::Set { name: name_tok.text.clone(), expr })))
            }
            "class" => {
                // dhcpd: anywhere but in a class. A class is global wherever it is
                // declared (see docs/DHCPD_CONF.md for the one difference this leaves).
                Self::allow(s, "class", scope, CLASS_SCOPES)?;
                // dhcpd: a quoted string only ("Expecting class name").
                let name = c.string("a quoted class name")?;
                let block = c.block()?;
                self.class(name, block, scope)?;
                Ok(None)
            }
            "subclass" => {
                Self::allow(s, "subclass", scope, CLASS_SCOPES)?;
                self.subclass(&mut c)?;
                Ok(None)
            }
            "allow" | "deny" => {
                let allow = kw == "allow";
                let what: Vec<String> = c.rest().iter().map(|t| t.text.to_ascii_lowercase()).collect();
                let p = match what.join(" ").as_str() {
                    "unknown-clients" | "unknown clients" => Param::AllowUnknownClients(allow),
                    "dynamic bootp clients" => Param::AllowDynamicBootp(allow),
                    "bootp" => Param::AllowBootp(allow),
                    "booting" => Param::AllowBooting(allow),
                    "duplicates" => Param::Duplicates(allow),
                    // In a pool, allow/deny are permits, and dhcpd knows no such permit.
                    "client-updates" if scope == S::Pool => {
                        return Err(ConfigError::new(
                            s.span(),
                            ErrorKind::NotAllowedHere {
                                statement: "client-updates".into(),
                                scope: scope.describe().into(),
                            },
                        ));
                    }
                    "client-updates" => Param::Ddns(DdnsParam::ClientUpdates(if allow {
                        ClientUpdates::Allow
                    } else {
                        ClientUpdates::Deny
                    })),
                    "" => return Err(c.expected("what to allow or deny")),
                    _ => {
                        return Err(ConfigError::new(&head.span, ErrorKind::Unsupported { statement: stmt_text(s) }));
                    }
                };
                param(p, &c)
            }
            "option" => self.option(&mut c, scope),
            "append" | "prepend" => {
                // dhcpd: `append|prepend OPTION VALUE;` (or `= EXPR`), read as an option
                // statement and run in order with the others (set_option).
                let prepend = kw == "prepend";
                if c.peek().is_some_and(|t| t.word().is_some_and(|w| w.eq_ignore_ascii_case("space"))) {
                    return Err(c.expected("an option name"));
                }
                if s.tokens.get(2).and_then(Token::word).is_some_and(|w| w.eq_ignore_ascii_case("code")) {
                    let mut at = Cursor::new(s);
                    at.pos = 2;
                    return Err(at.expected("an option value"));
                }
                let not_yet = |what: &str| {
                    Err(ConfigError::new(
                        &head.span,
                        ErrorKind::NotYetSupported { statement: stmt_text(s), reason: what.to_string() },
                    ))
                };
                let (code, expr) = match self.option(&mut c, scope)? {
                    Some(Item::Option { code, data }) => (code, crate::expr::DataExpr::Const(data)),
                    Some(Item::Dynamic(Action::OptionExpr { code, expr })) => (code, expr),
                    Some(Item::NamedOption { code, value }) => {
                        // Looked up with the configuration's other host names.
                        if matches!(code, 50..=54 | 56..=59 | 61 | 82) {
                            return not_yet("xdhcpd sets this option itself");
                        }
                        return Ok(Some(Item::Dynamic(Action::NamedAppend { code, value, prepend })));
                    }
                    Some(Item::SpaceOption { space, code, data }) => {
                        let expr = crate::expr::DataExpr::Const(data);
                        return Ok(Some(Item::Dynamic(Action::SpaceAppend { space, code, expr, prepend })));
                    }
                    Some(Item::Dynamic(Action::SpaceOptionExpr { space, code, expr })) => {
                        return Ok(Some(Item::Dynamic(Action::SpaceAppend { space, code, expr, prepend })));
                    }
                    _ => return not_yet("xdhcpd sets this option itself"),
                };
                if matches!(code, 50..=54 | 56..=59 | 61 | 82) {
                    return not_yet("xdhcpd sets this option itself");
                }
                Ok(Some(Item::Dynamic(Action::Append { code, expr, prepend })))
            }
            "shared-network" => {
                Self::allow(s, "shared-network", scope, &[S::Global, S::Group])?;
                let name = c.name("a shared-network name")?;
                let block = c.block()?;
                self.enclosing.push(head.span.clone());
                let items = self.items(block, S::SharedNetwork);
                self.enclosing.pop();
                Ok(Some(Item::SharedNetwork { name, span: head.span.clone(), items }))
            }
            "subnet" => {
                Self::allow(s, "subnet", scope, &[S::Global, S::Group, S::SharedNetwork])?;
                let (network, _) = c.ip("a subnet address")?;
                c.keyword("netmask")?;
                let (netmask, netmask_span) = c.ip("a netmask")?;
                let block = c.block()?;
                self.enclosing.push(head.span.clone());
                let items = self.items(block, S::Subnet);
                self.enclosing.pop();
                Ok(Some(Item::Subnet(SubnetDecl { network, netmask, span: head.span.clone(), netmask_span, items })))
            }
            "pool" => {
                Self::allow(s, "pool", scope, &[S::Subnet, S::SharedNetwork])?;
                let block = c.block()?;
                self.pool_after_seen = false;
                let items = self.items(block, S::Pool);
                Ok(Some(Item::Pool { items }))
            }
            "group" => {
                // dhcpd: anywhere but in a host or a class, with an optional name (used
                // by OMAPI only).
                Self::allow(s, "group", scope, &[S::Global, S::Group, S::SharedNetwork, S::Subnet, S::Pool])?;
                if c.peek().is_some_and(|t| t.word().is_some() || matches!(t.kind, TokenKind::Str(_))) {
                    c.pos += 1;
                }
                let block = c.block()?;
                let items = self.items(block, S::Group);
                Ok(Some(Item::Group { items }))
            }
            "range" => {
                Self::allow(s, "range", scope, &[S::Subnet, S::Pool])?;
                let dynamic_bootp = match c.peek().and_then(Token::word) {
                    Some(w) if w.eq_ignore_ascii_case("dynamic-bootp") => {
                        c.pos += 1;
                        true
                    }
                    _ => false,
                };
                let (start, _) = c.ip("a start address")?;
                let end = if c.peek().is_some() { c.ip("an end address")?.0 } else { start };
                c.end()?;
                Ok(Some(Item::Range(RangeDecl { start, end, dynamic_bootp, span: head.span.clone() })))
            }
            "host" => {
                // dhcpd: anywhere but in a host or a class. Declared in a pool, a host is
                // global too, and the pool's statements are among its enclosing scopes.
                Self::allow(s, "host", scope, &[S::Global, S::Group, S::SharedNetwork, S::Subnet, S::Pool])?;
                let name = c.name("a host name")?;
                let block = c.block()?;
                let items = self.items(block, S::Host);
                // dhcpd: "only one host-identifier allowed per host".
                if let Some(Item::HostIdentifier(_, _, at)) =
                    items.iter().filter(|i| matches!(i, Item::HostIdentifier(..))).nth(1)
                {
                    return Err(invalid(at, "host-identifier", &name, "only one host-identifier allowed per host"));
                }
                Ok(Some(Item::Host { name, span: head.span.clone(), items }))
            }
            "hardware" => {
                Self::allow(s, "hardware", scope, &[S::Host])?;
                let ty = c.word("'ethernet'")?;
                if !ty.text.eq_ignore_ascii_case("ethernet") {
                    return Err(ConfigError::new(&head.span, ErrorKind::Unsupported { statement: stmt_text(s) }));
                }
                let mac = c.word("a MAC address")?;
                let bytes =
                    options::parse_hex_bytes(&mac.text).and_then(|b| <[u8; 6]>::try_from(b).ok()).ok_or_else(|| {
                        invalid(&mac.span, "MAC address", &mac.text, "expected six colon-separated hex bytes")
                    })?;
                c.end()?;
                Ok(Some(Item::Hardware(bytes, mac.span.clone())))
            }
            "host-identifier" => {
                Self::allow(s, "host-identifier", scope, &[S::Host])?;
                let t = c.word("'option'")?;
                if t.text.eq_ignore_ascii_case("v6relopt") {
                    return Err(ConfigError::new(
                        &head.span,
                        ErrorKind::NotSupported {
                            statement: stmt_text(s),
                            reason: "v6relopt identifies DHCPv6 clients; xdhcpd serves DHCPv4".into(),
                        },
                    ));
                }
                if !t.text.eq_ignore_ascii_case("option") {
                    c.pos -= 1;
                    return Err(c.expected("'option' (host-identifier must be an option)"));
                }
                let name_tok = c.word("an option name")?;
                let tokens = std::slice::from_ref(name_tok);
                let mut p = ExprParser::new(tokens, &s.end, &self.options)
                    .with_spaces(&self.space_refs)
                    .with_funcs(&self.funcs, self.hostname.as_deref());
                let option = p.option_ref()?;
                // The value in the option's format (dhcpd's parse_option_data): a DHCP
                // option's type, a space option's, string or hex for the agent's.
                let lower = name_tok.text.to_ascii_lowercase();
                let ty = match lower.split_once('.') {
                    None => self.options.get(&lower).map(|d| d.ty),
                    Some((space, sub)) => self.space_defs.get(&(space.to_string(), sub.to_string())).map(|(_, ty)| *ty),
                }
                .unwrap_or(options::OptionType::String);
                let rest = c.rest();
                if rest.is_empty() {
                    return Err(c.expected("the option's value"));
                }
                let value = options::encode(ty, rest, &s.end)?;
                c.end()?;
                Ok(Some(Item::HostIdentifier(option, value, head.span.clone())))
            }
            "fixed-address" => {
                Self::allow(s, "fixed-address", scope, &[S::Host])?;
                let mut addrs = vec![c.host_addr()?];
                while c.peek().is_some_and(|t| t.kind == TokenKind::Comma) {
                    c.pos += 1;
                    addrs.push(c.host_addr()?);
                }
                c.end()?;
                Ok(Some(Item::FixedAddress(addrs)))
            }
            "failover" => {
                c.keyword("peer")?;
                let name_tok = c.peek();
                let name = c.string("a quoted peer name")?;
                let span = name_tok.map_or(head.span.clone(), |t| t.span.clone());
                if s.block.is_some() {
                    Self::allow(s, "failover peer { }", scope, &[S::Global])?;
                    let block = c.block()?;
                    Ok(self.peer(name, head.span.clone(), block)?.map(|p| Item::FailoverPeer(Box::new(p))))
                } else {
                    if c.peek().and_then(Token::word).is_some_and(|w| w.eq_ignore_ascii_case("state")) {
                        // Lease-file syntax; it does not belong in dhcpd.conf.
                        return Err(ConfigError::new(&head.span, ErrorKind::Unsupported { statement: stmt_text(s) }));
                    }
                    Self::allow(s, "failover peer", scope, &[S::Pool])?;
                    c.end()?;
                    Ok(Some(Item::FailoverRef(name, span)))
                }
            }
            "key" => {
                // dhcpd reads a key wherever it is written (keys have one global
                // namespace), and allows the `;` BIND 8 puts after the block.
                let name = c.name("a key name")?;
                let block = c.block()?;
                if let Some(k) = self.key(name, head.span.clone(), block)? {
                    self.key_names.insert(k.name.clone());
                    self.hoisted.push(Item::Key(k));
                }
                Ok(None)
            }
            "interface" => {
                // dhcpd reads it in a shared-network or a subnet only (its own parse
                // loops), and takes the next token as the name, whatever it is.
                Self::allow(s, "interface", scope, &[S::SharedNetwork, S::Subnet])?;
                let t = c.next().ok_or_else(|| c.expected("an interface name"))?;
                let name = match &t.kind {
                    TokenKind::Str(b) => String::from_utf8_lossy(b).into_owned(),
                    _ => t.text.clone(),
                };
                c.end()?;
                // dhcpd keeps at most 15 characters (its interface name buffer).
                let name: String = name.chars().take(15).collect();
                Ok(Some(Item::Interface(name, head.span.clone())))
            }
            "omapi-port" => {
                Self::allow(s, "omapi-port", scope, &[S::Global])?;
                let port = c.int("a port number")?;
                c.end()?;
                Ok(Some(Item::OmapiPort(port)))
            }
            "omapi-key" => {
                Self::allow(s, "omapi-key", scope, &[S::Global])?;
                let name = c.name("a key name")?;
                c.end()?;
                Ok(Some(Item::OmapiKey(name, head.span.clone())))
            }
            "include" => Err(c.expected("a quoted file name")),
            _ if UNSUPPORTED.contains(&kw.as_str()) => {
                Err(ConfigError::new(&head.span, ErrorKind::Unsupported { statement: stmt_text(s) }))
            }
            _ if is_inert_expression(s) => {
                self.warnings.push(Warning {
                    span: head.span.clone(),
                    kind: WarningKind::ExpressionWithoutEffect { text: stmt_text(s) },
                });
                Ok(None)
            }
            // `NAME = expression;` with a longer expression: dhcpd evaluates it (an eval
            // statement) and discards the value. Expressions have no side effect here
            // (function calls are refused), so it changes nothing: read it, and warn.
            _ if s.tokens.get(1).is_some_and(|t| t.kind == TokenKind::Equals || t.kind == TokenKind::Bang)
                && !crate::keywords::is_not_inert_head(word) =>
            {
                let mut p = ExprParser::new(&s.tokens, &s.end, &self.options)
                    .with_spaces(&self.space_refs)
                    .with_funcs(&self.funcs, self.hostname.as_deref());
                let e = p.boolean()?;
                c.pos = p.position();
                c.end()?;
                let calls = s.tokens.windows(2).any(|w| {
                    w[1].kind == TokenKind::LParen
                        && w[0]
                            .word()
                            .is_some_and(|n| crate::expr::is_variable_name(n) && !crate::keywords::is_not_inert_head(n))
                });
                if calls {
                    // A function call in it: the function's statements have effects, so
                    // it is evaluated as dhcpd does.
                    return Ok(Some(Item::Dynamic(Action::Eval(AnyExpr::Bool(e)))));
                }
                self.warnings.push(Warning {
                    span: head.span.clone(),
                    kind: WarningKind::ExpressionWithoutEffect { text: stmt_text(s) },
                });
                Ok(None)
            }
            // `NAME (ARGS);`: dhcpd reads a statement starting with a name as an
            // expression to evaluate ("function calls are data expressions").
            _ if s.block.is_none()
                && s.tokens.get(1).is_some_and(|t| t.kind == TokenKind::LParen)
                && is_call_head(s) =>
            {
                Ok(Some(Item::Dynamic(Action::Eval(self.any_to_end(s, 0)?))))
            }
            _ => Err(ConfigError::new(&head.span, ErrorKind::UnknownStatement { name: word.to_string() })),
        }
    }

    /// `option NAME VALUE;` or `option NAME code N = TYPE;`
    fn option(&mut self, c: &mut Cursor<'_>, scope: Scope) -> Result<Option<Item>, ConfigError> {
        let stmt = c.stmt;
        let name_tok = c.word("an option name")?;
        let name = name_tok.text.as_str();
        let is_definition = c.peek().and_then(Token::word).is_some_and(|w| w.eq_ignore_ascii_case("code"));
        if name.eq_ignore_ascii_case("space") {
            if scope != Scope::Global {
                // dhcpd: "option space definitions may not be scoped".
                return Err(ConfigError::new(
                    stmt.span(),
                    ErrorKind::NotAllowedHere { statement: "option space".into(), scope: scope.describe().into() },
                ));
            }
            return self.option_space(c);
        }
        if let Some((space, sub_name)) = name.split_once('.') {
            return self.space_option(c, &name_tok.span, space, sub_name, is_definition, scope);
        }
        if is_definition {
            if scope != Scope::Global {
                // dhcpd: "option definitions may not be scoped".
                return Err(ConfigError::new(
                    stmt.span(),
                    ErrorKind::NotAllowedHere { statement: "option definition".into(), scope: scope.describe().into() },
                ));
            }
            c.pos += 1;
            let code: u8 = c.int("an option code")?;
            if code == 0 || code == 255 {
                return Err(invalid(&name_tok.span, "option code", &code.to_string(), "0 and 255 are reserved"));
            }
            match c.peek() {
                Some(t) if t.kind == TokenKind::Equals => c.pos += 1,
                _ => return Err(c.expected("'='")),
            }
            // A new definition of the code ends an encapsulation it had.
            self.hoisted.retain(|i| !matches!(i, Item::Encapsulation { code: c, .. } if *c == code));
            match self.definition_type(c, &name_tok.span)? {
                DefType::Plain(ty) => self.options.define(OptionDef { name: name.to_string(), code, ty }),
                DefType::Encapsulate(space) => {
                    // An explicit value is bytes (dhcpd reads it as string or hex data);
                    // without one, the space's options make it up (lowering).
                    self.options.define(OptionDef { name: name.to_string(), code, ty: options::OptionType::String });
                    self.hoisted.push(Item::Encapsulation { code, space });
                }
            }
            self.index_space_refs();
            return Ok(None);
        }
        let def = self
            .options
            .get(name)
            .cloned()
            .ok_or_else(|| ConfigError::new(&name_tok.span, ErrorKind::UnknownOption { name: name.to_string() }))?;
        if !stmt.ends_with_semicolon() {
            let mut at_end = Cursor::new(stmt);
            at_end.pos = stmt.tokens.len();
            return Err(at_end.expected("';'"));
        }
        if c.peek().is_some_and(|t| t.kind == TokenKind::Equals) {
            // `option NAME = EXPR;`: the option's bytes are the expression's value,
            // computed for each client.
            // 55 (the parameter request list) orders the reply: set per packet, it
            // replaces the client's list, as a value written in the file does.
            if matches!(def.code, 50..=54 | 56..=59 | 61 | 82) {
                return Err(ConfigError::new(
                    &name_tok.span,
                    ErrorKind::NotYetSupported {
                        statement: stmt_text(stmt),
                        reason: "this option cannot be set from an expression (xdhcpd sets it itself)".into(),
                    },
                ));
            }
            c.pos += 1;
            let expr = self.data_expr_to_end(c)?;
            return Ok(Some(Item::Dynamic(Action::OptionExpr { code: def.code, expr })));
        }
        let data = match options::encode_value(def.ty, c.rest(), &stmt.end)? {
            Encoded::Bytes(data) => data,
            Encoded::Named(value) => {
                return Ok(Some(match (def.code, value.parts.as_slice()) {
                    (54, [ValuePart::Name { name, .. }]) => {
                        Item::Param(Param::ServerIdentifier(HostAddr::Name(name.clone())))
                    }
                    (code, _) => Item::NamedOption { code, value },
                }));
            }
        };
        Ok(Some(match def.code {
            61 if scope == Scope::Host => Item::ClientId(data),
            54 => match <[u8; 4]>::try_from(data.as_slice()) {
                Ok(b) => Item::Param(Param::ServerIdentifier(HostAddr::Ip(Ipv4Addr::from(b)))),
                Err(_) => Item::Option { code: 54, data },
            },
            code => Item::Option { code, data },
        }))
    }

    /// The TYPE of `option NAME code N = TYPE;` (the cursor is after the `=`): a type
    /// name, `encapsulate SPACE`, or a record `[array of] { FIELD, ... }`, which the
    /// first stage read as a block.
    fn definition_type(&self, c: &mut Cursor<'_>, name_span: &Span) -> Result<DefType, ConfigError> {
        let stmt = c.stmt;
        let type_toks = c.rest();
        let words: Option<Vec<String>> = type_toks.iter().map(|t| t.word().map(str::to_ascii_lowercase)).collect();
        let unsupported = || ConfigError::new(name_span, ErrorKind::Unsupported { statement: stmt_text(stmt) });
        if let Some(block) = &stmt.block {
            let array = match words.as_deref() {
                Some([]) => false,
                Some([a, o]) if a == "array" && o == "of" => true,
                _ => return Err(c.expected("';'")),
            };
            // The fields: one statement ended by the `}` (or by a `;` dhcpd refuses).
            let [fields] = block.as_slice() else {
                let at = block.get(1).map_or(&stmt.end, |s| s.span());
                return Err(ConfigError::new(
                    at,
                    ErrorKind::Expected { expected: "'}'".into(), after: stmt_text(stmt), found: "more".into() },
                ));
            };
            // A record's "not supported" names its fields too.
            let unsupported = || {
                let text = format!("{} {{ {} }}", stmt_text(stmt), stmt_text(fields));
                ConfigError::new(name_span, ErrorKind::Unsupported { statement: text })
            };
            if fields.block.is_some() || fields.end_text != "'}'" {
                return Err(unsupported());
            }
            let mut groups: Vec<Vec<String>> = vec![Vec::new()];
            for t in &fields.tokens {
                match (&t.kind, groups.last_mut()) {
                    (TokenKind::Comma, _) => groups.push(Vec::new()),
                    (TokenKind::Word, Some(g)) => g.push(t.text.to_ascii_lowercase()),
                    _ => return Err(unsupported()),
                }
            }
            return match options::parse_record(array, &groups) {
                Ok(r) => Ok(DefType::Plain(options::OptionType::Record(r))),
                Err(Some(reason)) => Err(invalid(name_span, "record type", &stmt_text(fields), reason)),
                Err(None) => Err(unsupported()),
            };
        }
        let words: Option<Vec<&str>> = words.as_ref().map(|w| w.iter().map(String::as_str).collect());
        if let (Some(["encapsulate", _]), [_, space_tok]) = (words.as_deref(), type_toks) {
            // dhcpd: "unknown option space" unless declared before.
            if !self.spaces.iter().any(|s| s.name == space_tok.text) {
                return Err(ConfigError::new(
                    &space_tok.span,
                    ErrorKind::UnknownOptionSpace { name: space_tok.text.clone() },
                ));
            }
            c.end()?;
            return Ok(DefType::Encapsulate(space_tok.text.clone()));
        }
        let Some(ty) = words.as_deref().and_then(options::parse_type) else {
            if type_toks.is_empty() {
                return Err(c.expected("an option type"));
            }
            return Err(unsupported());
        };
        c.end()?;
        Ok(DefType::Plain(ty))
    }

    /// `option space NAME [code width 1|2|4] [length width 1|2] [hash size N];`
    fn option_space(&mut self, c: &mut Cursor<'_>) -> Result<Option<Item>, ConfigError> {
        let name_tok = c.word("an option space name")?;
        if !options::is_dhcpd_identifier(&name_tok.text) {
            return Err(invalid(&name_tok.span, "option space name", &name_tok.text, "expected a name"));
        }
        let mut space = OptionSpace {
            name: name_tok.text.clone(),
            code_width: 1,
            length_width: 1,
            min_code: None,
            encapsulations: Vec::new(),
        };
        while let Some(t) = c.next() {
            match t.text.to_ascii_lowercase().as_str() {
                "code" | "length" => {
                    c.keyword("width")?;
                    let w = c.word("a width")?;
                    let is_code = t.text.eq_ignore_ascii_case("code");
                    let allowed: &[&str] = if is_code { &["1", "2", "4"] } else { &["1", "2"] };
                    if !allowed.contains(&w.text.as_str()) {
                        let reason = if is_code { "expected 1, 2 or 4" } else { "expected 1 or 2" };
                        return Err(invalid(&w.span, "width", &w.text, reason));
                    }
                    let v = options::parse_int::<u8>(w, "width")?;
                    if is_code {
                        space.code_width = v;
                    } else {
                        space.length_width = v;
                    }
                }
                "hash" => {
                    // The size of dhcpd's name hash table: no effect on any answer.
                    c.keyword("size")?;
                    let _: i32 = c.int("a hash size")?;
                }
                _ => {
                    c.pos -= 1;
                    return Err(c.expected("'code width', 'length width', 'hash size' or ';'"));
                }
            }
        }
        c.end()?;
        self.spaces.retain(|s| s.name != space.name);
        self.spaces.push(space.clone());
        self.hoisted.push(Item::OptionSpace(space));
        Ok(None)
    }

    /// The data expression that makes up the rest of the statement (`option NAME = EXPR;`,
    /// `option SPACE.NAME = EXPR;`): anything after it is "expected ';'".
    /// The expression of `PARAMETER = EXPR;` (a server parameter set for each client),
    /// read to the end of the statement, with where a `lease-time` in it stands (refused
    /// by the callers whose value dhcpd computes once the lease is extended).
    fn parameter_expr<'s>(
        &self,
        s: &'s RawStmt,
        c: &mut Cursor<'s>,
    ) -> Result<(crate::expr::DataExpr, Option<Span>), ConfigError> {
        let tokens = s.tokens.get(2..).unwrap_or_default();
        let mut p = ExprParser::new(tokens, &s.end, &self.options)
            .with_spaces(&self.space_refs)
            .with_funcs(&self.funcs, self.hostname.as_deref());
        let expr = p.data_arg()?;
        c.pos = 2 + p.position();
        c.end()?;
        Ok((expr, p.lease_time_at().cloned()))
    }

    fn data_expr_to_end(&self, c: &mut Cursor<'_>) -> Result<crate::expr::DataExpr, ConfigError> {
        let stmt = c.stmt;
        let tokens = c.rest();
        let mut p = ExprParser::new(tokens, &stmt.end, &self.options)
            .with_spaces(&self.space_refs)
            .with_funcs(&self.funcs, self.hostname.as_deref());
        let expr = p.data_arg()?;
        if let Some(t) = tokens.get(p.position()) {
            return Err(ConfigError::new(
                &t.span,
                ErrorKind::Expected { expected: "';'".into(), after: stmt_text(stmt), found: t.describe() },
            ));
        }
        if let Some(at) = p.lease_time_at() {
            return Err(lease_time_in_value(at));
        }
        Ok(expr)
    }

    /// `option SPACE.NAME code N = TYPE;` or `option SPACE.NAME VALUE;` for a space the
    /// file declared.
    fn space_option(
        &mut self,
        c: &mut Cursor<'_>,
        name_span: &Span,
        space_name: &str,
        sub_name: &str,
        is_definition: bool,
        scope: Scope,
    ) -> Result<Option<Item>, ConfigError> {
        let stmt = c.stmt;
        // DHCPv6 options (dhcp-options(5) defines and sets them in the same file): a DHCPv4
        // server, as dhcpd run with -4, never sends them, so they change no answer.
        if ["dhcp6", "isc6"].contains(&space_name.to_ascii_lowercase().as_str()) {
            c.pos = stmt.tokens.len();
            c.end()?;
            return Ok(None);
        }
        if space_name.eq_ignore_ascii_case("fqdn")
            && !is_definition
            && !self.spaces.iter().any(|s| s.name == space_name)
        {
            return self.fqdn_option(c, name_span, sub_name);
        }
        let Some(space) = self.spaces.iter().find(|s| s.name == space_name).cloned() else {
            // dhcpd's own spaces (agent, server, fqdn, vendor, ...) hold options xdhcpd
            // does not implement; any other space is simply not declared.
            return Err(if PREDEFINED_SPACES.contains(&space_name.to_ascii_lowercase().as_str()) {
                ConfigError::new(name_span, ErrorKind::Unsupported { statement: stmt_text(stmt) })
            } else {
                ConfigError::new(name_span, ErrorKind::UnknownOptionSpace { name: space_name.to_string() })
            });
        };
        let key = (space.name.clone(), sub_name.to_ascii_lowercase());
        if is_definition {
            if scope != Scope::Global {
                return Err(ConfigError::new(
                    stmt.span(),
                    ErrorKind::NotAllowedHere { statement: "option definition".into(), scope: scope.describe().into() },
                ));
            }
            c.pos += 1;
            let code_tok = c.word("an option code")?;
            let code: u32 = options::parse_int(code_tok, "option code")?;
            let max = match space.code_width {
                1 => 0xff,
                2 => 0xffff,
                _ => u32::MAX,
            };
            if code > max {
                // dhcpd accepts it and writes the code's low bytes (putUChar/putUShort);
                // xdhcpd does the same, and says so.
                self.warnings.push(Warning {
                    span: code_tok.span.clone(),
                    kind: WarningKind::CodeTruncated { code, sent: code & max, width: space.code_width },
                });
            }
            match c.peek() {
                Some(t) if t.kind == TokenKind::Equals => c.pos += 1,
                _ => return Err(c.expected("'='")),
            }
            let ty = match self.definition_type(c, name_span)? {
                DefType::Plain(ty) => ty,
                DefType::Encapsulate(inner) => {
                    // Made of INNER's options unless given a value (bytes) itself; dhcpd
                    // keeps the last encapsulation of a space (its `enc_opt`).
                    self.space_encaps.insert(inner, (space.name.clone(), code));
                    options::OptionType::String
                }
            };
            self.space_defs.insert(key, (code, ty));
            self.index_space_refs();
            return Ok(None);
        }
        let Some(&(code, ty)) = self.space_defs.get(&key) else {
            return Err(ConfigError::new(
                name_span,
                ErrorKind::UnknownOption { name: format!("{space_name}.{sub_name}") },
            ));
        };
        if !stmt.ends_with_semicolon() {
            let mut at_end = Cursor::new(stmt);
            at_end.pos = stmt.tokens.len();
            return Err(at_end.expected("';'"));
        }
        if c.peek().is_some_and(|t| t.kind == TokenKind::Equals) {
            // `option SPACE.NAME = EXPR;`: the sub-option's bytes, computed per client.
            c.pos += 1;
            let expr = self.data_expr_to_end(c)?;
            return Ok(Some(Item::Dynamic(Action::SpaceOptionExpr { space: space.name, code, expr })));
        }
        let data = match options::encode_value(ty, c.rest(), &stmt.end)? {
            Encoded::Bytes(data) => data,
            // Host names: looked up with the configuration's other names; the value is
            // then set for each request (as a per-packet statement), so that option 43
            // or the encapsulating option is built again with the addresses.
            Encoded::Named(value) => {
                return Ok(Some(Item::Dynamic(Action::NamedSpaceOption { space: space.name, code, value })));
            }
        };
        let limit = if space.length_width == 1 { 255 } else { 65_535 };
        if data.len() > limit {
            return Err(invalid(
                name_span,
                "option value",
                &format!("{} bytes", data.len()),
                "longer than the space's length width can say",
            ));
        }
        Ok(Some(Item::SpaceOption { space: space.name, code, data }))
    }

    /// `option fqdn.NAME VALUE;` (or `= EXPR`): a sub-option of dhcpd's client FQDN space
    /// (common/tables.c `fqdn_options`), from which dhcpd builds option 81 of a reply;
    /// kept as options of the space `fqdn`.
    fn fqdn_option(
        &mut self,
        c: &mut Cursor<'_>,
        name_span: &Span,
        sub_name: &str,
    ) -> Result<Option<Item>, ConfigError> {
        use options::OptionType as T;
        const FQDN: [(&str, u32, T); 8] = [
            ("no-client-update", 1, T::Boolean),
            ("server-update", 2, T::Boolean),
            ("encoded", 3, T::Boolean),
            ("rcode1", 4, T::U8),
            ("rcode2", 5, T::U8),
            ("hostname", 6, T::Text),
            ("domainname", 7, T::Text),
            ("fqdn", 8, T::Text),
        ];
        let stmt = c.stmt;
        let Some(&(_, code, ty)) = FQDN.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(sub_name)) else {
            return Err(ConfigError::new(name_span, ErrorKind::UnknownOption { name: format!("fqdn.{sub_name}") }));
        };
        if !stmt.ends_with_semicolon() {
            let mut at_end = Cursor::new(stmt);
            at_end.pos = stmt.tokens.len();
            return Err(at_end.expected("';'"));
        }
        let space = "fqdn".to_string();
        if c.peek().is_some_and(|t| t.kind == TokenKind::Equals) {
            c.pos += 1;
            let expr = self.data_expr_to_end(c)?;
            return Ok(Some(Item::Dynamic(Action::SpaceOptionExpr { space, code, expr })));
        }
        let data = options::encode(ty, c.rest(), &stmt.end)?;
        Ok(Some(Item::SpaceOption { space, code, data }))
    }

    /// The statements of a `failover peer "name" { }` block. Returns `None` when a
    /// statement of the block was wrong (already reported): the "missing" checks
    /// would then only repeat that error.
    fn peer(&mut self, name: String, span: Span, block: &[RawStmt]) -> Result<Option<PeerDecl>, ConfigError> {
        let mut role = None;
        let mut address = None;
        let mut peer_address = None;
        let mut d = PeerDecl {
            name,
            span: span.clone(),
            role: Role::Primary,
            address: PeerAddress::Ip(Ipv4Addr::UNSPECIFIED),
            port: None,
            peer_address: PeerAddress::Ip(Ipv4Addr::UNSPECIFIED),
            peer_port: None,
            max_response_delay: None,
            max_unacked_updates: None,
            mclt: None,
            split: None,
            hba: None,
            load_balance_max_seconds: None,
            auto_partner_down: None,
            max_lease_misbalance: None,
            max_lease_ownership: None,
            min_balance: None,
            max_balance: None,
            hot_standby_reserve: None,
            auth_key: None,
            tls_certificate: None,
            tls_key: None,
            tls_ca: None,
        };
        let mut failed = false;
        for s in block {
            if let Err(e) = Self::peer_stmt(s, &mut d, &mut role, &mut address, &mut peer_address) {
                self.errors.push(e);
                failed = true;
            }
        }
        if failed {
            return Ok(None);
        }
        let block_name = format!("failover peer \"{}\"", d.name);
        let missing =
            |m: &str| ConfigError::new(&span, ErrorKind::Missing { block: block_name.clone(), missing: m.into() });
        d.role = role.ok_or_else(|| missing("primary' or 'secondary"))?;
        d.address = address.ok_or_else(|| missing("address"))?;
        d.peer_address = peer_address.ok_or_else(|| missing("peer address"))?;
        // TLS needs all three files: ours to present, its key, and the CA to check the partner.
        let tls = [(&d.tls_certificate, "tls-certificate"), (&d.tls_key, "tls-key"), (&d.tls_ca, "tls-ca")];
        if tls.iter().any(|(v, _)| v.is_some())
            && let Some((_, name)) = tls.iter().find(|(v, _)| v.is_none())
        {
            return Err(missing(name));
        }
        Ok(Some(d))
    }

    fn peer_stmt(
        s: &RawStmt,
        d: &mut PeerDecl,
        role: &mut Option<Role>,
        address: &mut Option<PeerAddress>,
        peer_address: &mut Option<PeerAddress>,
    ) -> Result<(), ConfigError> {
        let mut c = Cursor::new(s);
        let head = c.word("a failover peer statement")?;
        let kw = head.text.to_ascii_lowercase();
        let num = |c: &mut Cursor<'_>| -> Result<u32, ConfigError> { c.int("a number") };
        match kw.as_str() {
            "primary" => *role = Some(Role::Primary),
            "secondary" => *role = Some(Role::Secondary),
            "address" => *address = Some(peer_addr(&mut c)?),
            "port" => d.port = Some(c.int("a port number")?),
            "peer" => {
                let what = c.word("'address' or 'port'")?;
                match what.text.to_ascii_lowercase().as_str() {
                    "address" => *peer_address = Some(peer_addr(&mut c)?),
                    "port" => d.peer_port = Some(c.int("a port number")?),
                    _ => {
                        // `peer max-response-delay` etc. set the partner's values, which
                        // CONNECT overrides anyway; we refuse rather than guess.
                        return Err(ConfigError::new(&head.span, ErrorKind::Unsupported { statement: stmt_text(s) }));
                    }
                }
            }
            "max-response-delay" => d.max_response_delay = Some(num(&mut c)?),
            "max-unacked-updates" => d.max_unacked_updates = Some(num(&mut c)?),
            "mclt" => d.mclt = Some((num(&mut c)?, head.span.clone())),
            "split" => {
                let t = c.word("a split value (0 to 256)")?;
                let v: u16 = options::parse_int(t, "split")?;
                if v > 256 {
                    return Err(invalid(&t.span, "split", &t.text, "must be 0 to 256"));
                }
                d.split = Some((v, head.span.clone()));
            }
            "hba" => {
                let t = c.word("32 colon-separated hex bytes")?;
                let hba = options::parse_hex_bytes(&t.text)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| invalid(&t.span, "hba", &t.text, "expected exactly 32 colon-separated hex bytes"))?;
                d.hba = Some((hba, head.span.clone()));
            }
            "load" => {
                for kw in ["balance", "max"] {
                    c.keyword(kw)?;
                }
                match c.peek().and_then(Token::word).map(str::to_ascii_lowercase).as_deref() {
                    Some("seconds" | "secs") => c.pos += 1,
                    _ => return Err(c.expected("'seconds'")),
                }
                d.load_balance_max_seconds = Some(num(&mut c)?);
            }
            "auto-partner-down" => d.auto_partner_down = Some(num(&mut c)?),
            "max-lease-misbalance" => d.max_lease_misbalance = Some(num(&mut c)?),
            "max-lease-ownership" => d.max_lease_ownership = Some(num(&mut c)?),
            "min-balance" => d.min_balance = Some(num(&mut c)?),
            "max-balance" => d.max_balance = Some(num(&mut c)?),
            "hot-standby-reserve" => {
                let pct = match c.next() {
                    None => crate::model::DEFAULT_HOT_STANDBY_RESERVE,
                    Some(t) => {
                        let text = t.text.strip_suffix('%').unwrap_or(&t.text);
                        let v = text.parse::<u8>().ok().filter(|v| *v <= 100);
                        v.ok_or_else(|| {
                            invalid(&t.span, "hot-standby-reserve", &t.text, "expected a percentage, 0 to 100")
                        })?
                    }
                };
                d.hot_standby_reserve = Some((pct, head.span.clone()));
            }
            // xdhcpd extensions for the peer link (see README): dhcpd has no equivalent.
            "auth-key" => d.auth_key = Some((c.name("a key name")?, head.span.clone())),
            "tls-certificate" => d.tls_certificate = Some(c.string("a quoted file name")?),
            "tls-key" => d.tls_key = Some(c.string("a quoted file name")?),
            "tls-ca" => d.tls_ca = Some(c.string("a quoted file name")?),
            _ => {
                return Err(ConfigError::new(&head.span, ErrorKind::UnknownStatement { name: head.text.clone() }));
            }
        }
        c.end()
    }

    /// The statements of a `key NAME { }` block.
    /// Returns `None` when a statement of the block was wrong (already reported).
    fn key(&mut self, name: String, span: Span, block: &[RawStmt]) -> Result<Option<KeyDecl>, ConfigError> {
        let mut failed = false;
        let mut algorithm = None;
        let mut secret = None;
        for s in block {
            let r = (|| {
                let mut c = Cursor::new(s);
                let head = c.word("'algorithm' or 'secret'")?;
                match head.text.to_ascii_lowercase().as_str() {
                    "algorithm" => {
                        let a = c.word("an algorithm name")?;
                        let lower = a.text.to_ascii_lowercase();
                        if lower == "hmac-md5" || lower.trim_end_matches('.') == "hmac-md5.sig-alg.reg.int" {
                            algorithm = Some(KeyAlgorithm::HmacMd5);
                        } else if let Some(alg) = match lower.trim_end_matches('.') {
                            "hmac-sha256" => Some(KeyAlgorithm::HmacSha256),
                            "hmac-sha1" => Some(KeyAlgorithm::HmacSha1),
                            "hmac-sha224" => Some(KeyAlgorithm::HmacSha224),
                            "hmac-sha384" => Some(KeyAlgorithm::HmacSha384),
                            "hmac-sha512" => Some(KeyAlgorithm::HmacSha512),
                            _ => None,
                        } {
                            algorithm = Some(alg);
                        } else {
                            return Err(ConfigError::new(&a.span, ErrorKind::Unsupported { statement: stmt_text(s) }));
                        }
                        c.end()
                    }
                    "secret" => {
                        // A quoted string, or (as dhcpd accepts) the bare base64 text, which
                        // the lexer may have cut at `=`.
                        let rest = c.rest();
                        if rest.is_empty() {
                            return Err(c.expected("a base64 secret"));
                        }
                        let text: String = rest
                            .iter()
                            .map(|t| match &t.kind {
                                TokenKind::Str(b) => String::from_utf8_lossy(b).into_owned(),
                                _ => t.text.clone(),
                            })
                            .collect();
                        let bytes = decode_base64(&text)
                            .ok_or_else(|| invalid(&rest[0].span, "secret", &text, "not valid base64"))?;
                        secret = Some(bytes);
                        c.end()
                    }
                    _ => Err(ConfigError::new(&head.span, ErrorKind::UnknownStatement { name: head.text.clone() })),
                }
            })();
            if let Err(e) = r {
                self.errors.push(e);
                failed = true;
            }
        }
        if failed {
            return Ok(None);
        }
        let block_name = format!("key \"{name}\"");
        let missing =
            |m: &str| ConfigError::new(&span, ErrorKind::Missing { block: block_name.clone(), missing: m.into() });
        let algorithm = algorithm.ok_or_else(|| missing("algorithm"))?;
        let secret = secret.ok_or_else(|| missing("secret"))?;
        Ok(Some(KeyDecl { name, span, algorithm, secret }))
    }
}

/// Whether `stmt` is a stray expression dhcpd evaluates and discards: `NAME;`,
/// `NAME = VALUE;` or `NAME != VALUE;`, NAME a name dhcpd does not know (not a keyword,
/// not a server option) and VALUE one string, number, hex string or name. dhcpd reads a
/// statement that starts with an unknown name as an expression statement (an `eval`):
/// comparing an unset variable with a constant has no side effect, so the line changes
/// nothing, and `dhcpd -t` accepts it. Longer expressions are left to the expression
/// work (they may call functions).
/// Whether the statement starts with a name dhcpd would read as a function's
/// (`NAME (`), not one of its keywords.
fn is_call_head(stmt: &RawStmt) -> bool {
    stmt.tokens
        .first()
        .and_then(Token::word)
        .is_some_and(|w| crate::expr::is_variable_name(w) && !crate::keywords::is_not_inert_head(w))
}

fn is_inert_expression(stmt: &RawStmt) -> bool {
    if !stmt.ends_with_semicolon() {
        return false;
    }
    let is_name = |t: &Token| {
        t.word().is_some_and(|w| {
            // dhcpd's lexer does not check a word's first character: a letter followed
            // by hex digits only ("ab", "x1") is a number-or-name, which its expression
            // parser reads as one hex byte ("x1", "abc" are errors there).
            let hex_like = w.chars().skip(1).all(|c| c.is_ascii_hexdigit());
            w.starts_with(|c: char| c.is_ascii_alphabetic())
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && (!hex_like || u8::from_str_radix(w, 16).is_ok())
                && !crate::keywords::is_not_inert_head(w)
        })
    };
    let is_value = |t: &Token| match &t.kind {
        TokenKind::Str(_) => true,
        TokenKind::Word => {
            let digits = t.text.strip_prefix('-').unwrap_or(&t.text);
            is_name(t)
                || (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
                || options::parse_hex_bytes(&t.text).is_some()
        }
        _ => false,
    };
    match stmt.tokens.as_slice() {
        [name] => is_name(name),
        [name, eq, value] => is_name(name) && eq.kind == TokenKind::Equals && is_value(value),
        [name, bang, eq, value] => is_name(name) && bang.text == "!" && eq.kind == TokenKind::Equals && is_value(value),
        _ => false,
    }
}

/// `lease limit N;` in a class or subclass (dhcpd: "expecting \"limit\"", "expecting a
/// number").
fn lease_limit(s: &RawStmt) -> Result<u32, ConfigError> {
    let mut c = Cursor::new(s);
    c.pos = 1;
    c.keyword("limit")?;
    let n: u32 = c.int("lease limit")?;
    c.end()?;
    Ok(n)
}

/// The statement's first word, lower-cased.
fn head_word(s: &RawStmt) -> Option<String> {
    s.tokens.first().and_then(Token::word).map(str::to_ascii_lowercase)
}

/// How many statements an `if` chain at `stmts[0]` spans: the `if` and the `elsif` /
/// `else` statements right after it (an `else` without `if` ends it).
fn chain_len(stmts: &[RawStmt]) -> usize {
    let mut n = 1;
    while let Some(s) = stmts.get(n) {
        match head_word(s).as_deref() {
            Some("elsif") => n += 1,
            Some("else") => {
                n += 1;
                let else_if = s.tokens.get(1).and_then(Token::word).is_some_and(|w| w.eq_ignore_ascii_case("if"));
                if !else_if {
                    break;
                }
            }
            _ => break,
        }
    }
    n
}

/// `elsif` or `else` with no `if` block before it (dhcpd: "expecting a declaration").
fn stray_else(s: &RawStmt) -> ConfigError {
    let head = s.tokens.first();
    ConfigError::new(
        s.span(),
        ErrorKind::Expected {
            expected: "a statement ('elsif' and 'else' follow an 'if' block)".into(),
            after: String::new(),
            found: head.map_or_else(String::new, Token::describe),
        },
    )
}

/// A failover `address`: an IPv4 literal, or a host name for the server to resolve.
fn peer_addr(c: &mut Cursor<'_>) -> Result<PeerAddress, ConfigError> {
    Ok(match c.host_addr()?.0 {
        HostAddr::Ip(ip) => PeerAddress::Ip(ip),
        HostAddr::Name(n) => PeerAddress::Name(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryLoader;
    use crate::syntax::Reader;

    fn parse(text: &str) -> (Vec<Item>, Vec<ConfigError>) {
        let loader = MemoryLoader::default();
        let mut r = Reader::new(&loader);
        let stmts = r.read_root("t.conf", text);
        let mut p = Parser::new();
        let items = p.parse(&stmts);
        let mut errors = r.errors;
        errors.extend(p.errors);
        (items, errors)
    }

    /// Reads `defs` (top-level statements), then evaluates `expr` with its functions,
    /// for a DISCOVER carrying `options` and with the lease variables `vars`.
    fn call_value(defs: &str, expr: &str, options: &[(u8, &[u8])], vars: &std::cell::RefCell<Vars>) -> Option<Val> {
        let loader = MemoryLoader::default();
        let mut r = Reader::new(&loader);
        let stmts = r.read_root("t.conf", defs);
        let mut p = Parser::new();
        p.hostname = Some(b"server-1".to_vec());
        p.parse(&stmts);
        assert!(r.errors.is_empty() && p.errors.is_empty(), "{:?} {:?}", r.errors, p.errors);
        let file: std::sync::Arc<str> = std::sync::Arc::from("e.conf");
        let mut errors = Vec::new();
        let tokens = crate::lexer::tokenize(&file, expr, &mut errors);
        let end = Span::start_of("e.conf");
        let mut ep = ExprParser::new(&tokens, &end, &p.options).with_funcs(&p.funcs, p.hostname.as_deref());
        let e = ep.any().unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(ep.position(), tokens.len(), "all of {expr:?} read");
        let mut raw = vec![0u8; 240];
        raw[0] = 1;
        raw[1] = 1;
        raw[2] = 6;
        raw[108..112].copy_from_slice(b"boot");
        raw[236..240].copy_from_slice(&[99, 130, 83, 99]);
        raw.extend_from_slice(&[53, 1, 1]);
        for (c, d) in options {
            raw.push(*c);
            raw.push(d.len() as u8);
            raw.extend_from_slice(d);
        }
        raw.push(255);
        let effects = std::cell::RefCell::new(crate::model::Effects::default());
        let v = e.value(&Packet::new(&raw, false).with_vars(vars).with_effects(&effects));
        let commands = effects.into_inner().commands;
        if !commands.is_empty() {
            // Programs a function queued, as a lease variable the test can read.
            let text: Vec<String> = commands.iter().map(|c| format!("{} {:?}", c.program, c.args)).collect();
            vars.borrow_mut().set("queued", Some(text.join(";").into_bytes()));
        }
        v
    }

    fn data(v: &str) -> Option<Val> {
        Some(Val::Data(v.as_bytes().to_vec()))
    }

    /// A `switch` in a function's body, as outside one: the first matching case, else
    /// `default` (a null value too), falling through to a `break`; a `return` in an arm
    /// returns from the function; a switch on a variable is numeric (dhcpd's
    /// is_data_expression is false for it). Against a real dhcpd:
    /// probe-function-switch.conf.
    #[test]
    fn a_switch_in_a_function_runs_as_outside_one() {
        let defs = r#"define choose-one (arg) {
            switch (arg) { case "a": return "alpha"; default: return "other"; }
        }
        define count-to (num) {
            switch (num) {
              case 1: return "one";
              case 2: set second = "two";
              case 3: return concat ("fell to three after ", second);
              case 4: set fourth = "four"; break;
              default: return "other";
            }
            return pick-first-value (fourth, "none");
        }"#;
        let vars = std::cell::RefCell::new(Vars::default());
        let call = |e: &str, opts: &[(u8, &[u8])]| call_value(defs, e, opts, &vars);
        // A switch on a variable is numeric to dhcpd: a string case never matches.
        assert_eq!(call("choose-one (\"a\")", &[]), data("other"));
        assert_eq!(call("count-to (extract-int (01, 8))", &[]), data("one"));
        assert_eq!(call("count-to (extract-int (02, 8))", &[]), data("fell to three after two"));
        assert_eq!(call("count-to (extract-int (04, 8))", &[]), data("four"), "break, then the next statement");
        assert_eq!(call("count-to (extract-int (07, 8))", &[]), data("other"));
        assert_eq!(call("count-to (\"a\")", &[]), data("other"), "data: no case");
        assert_eq!(call("count-to (extract-int (option host-name, 8))", &[]), data("other"), "null: default");
    }

    /// Functions as dhcpd 4.4.3 runs them (common/execute.c, tree.c): arguments bound in
    /// a scope inside the caller's, the first non-null `return` ends the function, a
    /// call's value only where any type is evaluated (set, `=`, arguments, return),
    /// null elsewhere; the same cases against a real dhcpd: probe-functions.conf.
    #[test]
    fn functions_are_dhcpds() {
        let defs = r#"
            define choose (first, second) { if defined (first) { return first; } return second; }
            define tag (arg) { set seen = arg; set mine = arg; return concat ("<", arg, ">"); }
            define bits (num) {
              if num = extract-int (00:00:00:00, 32) { return "."; }
              set rest = bits (num / extract-int (00:00:00:02, 32));
              return concat ("1", rest);
            }
            define late (arg) { return option domain-name; return arg; }
            define forever (arg) { set rest = forever (arg); return concat ("x", rest); }
            define nothing (arg) { }
        "#;
        let vars = std::cell::RefCell::new(Vars::default());
        let v = |e: &str, opts: &[(u8, &[u8])]| call_value(defs, e, opts, &vars);
        assert_eq!(v("choose (option host-name, \"anonymous\")", &[]), data("anonymous"));
        assert_eq!(v("choose (option host-name, \"anonymous\")", &[(12, b"pc")]), data("pc"));
        // Recursion with numbers in the function's own variables: 5 has three bits.
        assert_eq!(v("bits (extract-int (00:00:00:05, 32))", &[]), data("111."));
        // A null return leaves the result unset: the next return gives it.
        assert_eq!(v("late (\"b\")", &[]), data("b"));
        // Unbounded recursion stops at the depth bound (dhcpd would overflow its stack):
        // the deepest call is null, and so is each value built on it.
        assert_eq!(v("forever (\"a\")", &[]), None);
        assert_eq!(v("nothing (1)", &[]), None);
        // Wrong argument counts and unknown functions are null.
        assert_eq!(v("choose (\"a\")", &[]), None);
        assert_eq!(v("nosuch (\"a\")", &[]), None);
        // In a data context a call is run and then null (the "bogus opcode" exit).
        assert_eq!(v("concat (choose (\"a\", \"b\"), \"c\")", &[]), None);
        assert_eq!(v("choose (\"a\", \"b\") = \"a\"", &[]), Some(Val::Bool(true)));
        assert_eq!(v("choose (1, 2) = 01", &[]), Some(Val::Bool(true)), "arguments read as data");
        // A set inside changes a lease variable that exists, and makes its own otherwise.
        vars.borrow_mut().set("seen", Some(b"init".to_vec()));
        assert_eq!(v("tag (\"t\")", &[]), data("<t>"));
        assert_eq!(vars.borrow().get("seen"), Some(&b"t"[..]));
        assert_eq!(vars.borrow().get("mine"), None);
        assert_eq!(v("defined (mine)", &[]), Some(Val::Bool(false)));
        assert_eq!(v("defined (seen) and defined (tag) and defined (TAG)", &[]), Some(Val::Bool(true)));
        // A function's execute is queued with the request's programs (a null argument
        // empty), its log logged.
        let hook =
            "define run-hook (arg) { execute (\"/bin/hook\", arg, option domain-name); log (info, arg); return arg; }";
        assert_eq!(call_value(hook, "run-hook (\"a\")", &[], &vars), data("a"));
        assert_eq!(vars.borrow().get("queued"), Some(&b"/bin/hook [[97], []]"[..]));
        // Operands of the packet and the server.
        assert_eq!(v("filename", &[]), data("boot"));
        assert_eq!(v("server-name", &[]), None);
        assert_eq!(v("gethostname ()", &[]), data("server-1"));
        assert_eq!(v("client-state", &[]), None);
        assert_eq!(v("client-state = bound", &[]), Some(Val::Bool(false)));
        assert_eq!(v("rebind", &[]), Some(Val::Num(7)));
    }

    /// A call cannot cost without bound: a function calling itself twice (2^16 calls
    /// to the depth bound) stops at the budget of calls per evaluation, counted here by
    /// the lease variable each call grows.
    #[test]
    fn calls_are_bounded() {
        let defs = r#"define twice (arg) {
            set count = concat (count, ".");
            set left = twice (arg);
            set right = twice (arg);
            return arg;
        }"#;
        let vars = std::cell::RefCell::new(Vars::default());
        vars.borrow_mut().set("count", Some(Vec::new()));
        assert_eq!(call_value(defs, "twice (option host-name)", &[(12, b"ab")], &vars), data("ab"));
        assert_eq!(vars.borrow().get("count").map(<[u8]>::len), Some(MAX_CALLS as usize));
    }

    #[test]
    fn define_verdicts_are_dhcpds() {
        let refused = |text: &str, what: &str| {
            let (_, errors) = parse(text);
            assert!(errors.iter().any(|e| e.to_string().contains(what)), "{text}: {errors:?}");
        };
        let accepted = |text: &str| {
            let (_, errors) = parse(text);
            assert!(errors.is_empty(), "{text}: {errors:?}");
        };
        accepted("define fn-one (a, b) { return concat (a, b); } eval fn-one (1, 2); fn-one (\"x\", 01);");
        accepted("define fn-one () { return 1; } return \"a\"; eval known;");
        // A hex-like name is data to dhcpd's expression parser: not a call.
        refused("eval f1 (1, 2);", "';'");
        accepted("if fn-two (\"a\", known, 1) { option host-name \"a\"; } option host-name = fn-two (\"a\");");
        accepted("if defined (foo) { } if filename = \"x\" { } if server-name = \"y\" { } if client-state = 1 { }");
        accepted("if client-state = bound or client-state = renew or client-state = rebind { }");
        accepted("if gethostname () = \"x\" and variable-exists (foo) { }");
        refused("define x1 = \"a\";", "broken function");
        refused("define pick (a) { return a; }", "function name");
        refused("define fn-one { return 1; }", "'=' or '('");
        refused("if fn-one () = \"x\" { }", "expected an expression");
        refused("if gethostname = \"x\" { }", "'('");
        refused("if v6relay (1, option host-name) = \"x\" { }", "DHCPv6");
        refused("define fn-one (a) { option host-name \"x\"; }", "inside a function");
        accepted("define fn-one (a) { log (info, a); execute (\"/bin/true\", a); return a; }");
        refused("subnet 198.18.0.0 netmask 255.255.255.0 { define fn-one (a) { return a; } }", "top level");
        refused("define fn-one (a) { return a; } define fn-one (b) { return b; }", "defined twice");
        // lease-time is numeric, so the number after `=` is one (dhcpd -t accepts both);
        // in an option's value it is refused (dhcpd reads it after the lease is extended).
        accepted("if lease-time = 1 { } set lt = lease-time / 60;");
        refused("option domain-name = encode-int (lease-time, 32);", "lease-time");
        refused("next-server = encode-int (lease-time, 32);", "lease-time");
        // `not` takes a boolean only: no variable, no call (dhcpd: "boolean expression expected").
        refused("if not foo { }", "a boolean expression");
        refused("if not fn-one (1) { }", "a boolean expression");
        accepted("if foo and not known { }");
    }

    #[test]
    fn missing_semicolon_message() {
        let (_, e) = parse("default-lease-time 600\n    max-lease-time 7200;\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].to_string(), "t.conf:2:5: expected ';' after 'default-lease-time 600', found 'max-lease-time'");
    }

    #[test]
    fn unsupported_is_named() {
        let (_, e) = parse("ignore declines;\nclass \"x\" { match if config-option x; define f (a) { } }\n");
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0].to_string(), "t.conf:1:1: `ignore declines` is not supported");
        // Inside a class, what is not implemented yet is refused where it is written.
        assert!(e[1].to_string().starts_with("t.conf:2:22: `config-option` is not supported yet"), "{}", e[1]);
        assert!(e[2].to_string().starts_with("t.conf:2:39: `define f (a)` is not supported"), "{}", e[2]);
    }

    #[test]
    fn unknown_statement_and_recovery() {
        let (items, e) = parse("frobnicate 3;\nauthoritative;\n");
        assert_eq!(e.len(), 1);
        assert!(matches!(e[0].kind, ErrorKind::UnknownStatement { .. }));
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn user_defined_option() {
        let (items, e) = parse(
            "option wpad code 252 = text;\noption wpad \"http://x/wpad.dat\";\noption foo code 250 = array of ip-address;\noption foo 1.2.3.4, 5.6.7.8;",
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(matches!(&items[0], Item::Option { code: 252, data } if data == b"http://x/wpad.dat"));
        assert!(matches!(&items[1], Item::Option { code: 250, data } if data.len() == 8));
    }

    #[test]
    fn option_before_definition_is_unknown() {
        let (_, e) = parse("option wpad \"x\";\noption wpad code 252 = text;");
        assert_eq!(e.len(), 1);
        assert!(matches!(e[0].kind, ErrorKind::UnknownOption { .. }));
    }

    #[test]
    fn scope_rules() {
        let (_, e) = parse("range 10.0.0.1 10.0.0.2;\nhardware ethernet 00:11:22:33:44:55;\n");
        assert_eq!(e.len(), 2);
        assert!(e.iter().all(|e| matches!(e.kind, ErrorKind::NotAllowedHere { .. })));
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("c2VjcmV0"), Some(b"secret".to_vec()));
        assert_eq!(decode_base64("YQ=="), Some(b"a".to_vec()));
        assert_eq!(decode_base64("YWI="), Some(b"ab".to_vec()));
        assert_eq!(decode_base64("Y"), None);
        assert_eq!(decode_base64("YQ==YQ"), None);
        assert_eq!(decode_base64("Ofakekeyfakekeyfakekey==").map(|v| v.len()), Some(16));
        assert_eq!(decode_base64("a*b"), None);
    }

    #[test]
    fn peer_block_errors_are_collected() {
        let (_, e) = parse("failover peer \"p\" {\n primary;\n split 300;\n bogus 1;\n address 1.2.3.4;\n}\n");
        // split out of range and unknown statement; "no peer address" is not
        // added on top of them.
        assert_eq!(e.len(), 2, "{e:?}");
        let (_, e) = parse("failover peer \"p\" {\n primary;\n address 1.2.3.4;\n}\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].to_string(), "t.conf:1:1: failover peer \"p\" has no 'peer address'");
    }

    /// dhcpd's parse_date_core arithmetic, checked against the calendar (leap days
    /// included) and its other forms.
    #[test]
    fn dates_are_read_as_dhcpd_reads_them() {
        assert_eq!(dhcpd_date(&["4", "2024/02/29", "12:00:00"]), Ok(1_709_208_000));
        assert_eq!(dhcpd_date(&["5", "2024/03/01", "00:00:00"]), Ok(1_709_251_200));
        assert_eq!(dhcpd_date(&["2", "2030/01/01", "00:00:00"]), Ok(1_893_456_000));
        // The offset is added, as dhcpd adds it; the weekday is not checked.
        assert_eq!(dhcpd_date(&["0", "2030/01/01", "00:00:00", "3600"]), Ok(1_893_459_600));
        assert_eq!(dhcpd_date(&["epoch", "1700000000"]), Ok(1_700_000_000));
        assert_eq!(dhcpd_date(&["never"]), Ok(0x7fff_ffff));
        assert_eq!(dhcpd_date(&["1", "2040/01/01", "00:00:00"]), Ok(0x7fff_ffff), "2038 on: MAX_TIME");
        assert!(dhcpd_date(&["2030/01/01", "00:00:00"]).is_err());
        assert!(dhcpd_date(&["1", "2030/13/01", "00:00:00"]).is_err());
        assert!(dhcpd_date(&["1", "2030/01/01"]).is_err());
        assert!(dhcpd_date(&["1", "2030/01/01", "00:00"]).is_err());
        assert!(dhcpd_date(&[]).is_err());
    }
}
