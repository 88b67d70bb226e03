//! DHCP option names, codes and types, and the encoding of option values to the bytes
//! that go on the wire.
//!
//! The names are dhcpd's (`dhcp-options(5)`), so configurations written for dhcpd keep
//! working. Values are encoded once, at load time, so the server only copies bytes.
//! Values longer than 255 bytes are kept whole; whoever writes the packet must split
//! them (RFC 3396), as dhcpd does.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::error::{ConfigError, ErrorKind, Span};
use crate::lexer::{Token, TokenKind};
use crate::model::{HostAddr, NamedValue, ValuePart};

/// The type of an option's value, which decides how it is written and encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionType {
    /// One IPv4 address.
    IpAddress,
    /// One or more IPv4 addresses, comma separated.
    IpArray,
    /// Pairs of addresses `dest router, ...` (option 33, static-routes).
    IpPairs,
    /// Unsigned 8-bit integer.
    U8,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 32-bit integer.
    U32,
    /// Signed 8-bit integer.
    I8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// One or more unsigned 8-bit integers.
    U8Array,
    /// One or more unsigned 16-bit integers.
    U16Array,
    /// One or more unsigned 32-bit integers.
    U32Array,
    /// A quoted string, sent as its bytes.
    Text,
    /// Bytes: a quoted string or colon-separated hex (`01:02:0a`).
    String,
    /// `true`/`false` (also `on`/`off`), one byte 1/0.
    Boolean,
    /// Comma-separated quoted domain names, RFC 1035 encoded without compression (dhcpd's
    /// `domain-list`, format `D`).
    DomainList,
    /// The same with RFC 1035 compression, pointers relative to the option's data (dhcpd's
    /// `domain-list compressed`, format `Dc`: domain-search 119 as RFC 3397 asks, and
    /// sip-ua-cs-domains 141).
    DomainListCompressed,
    /// One domain name, unquoted (`host.example.com`), sent in DNS wire format without
    /// compression (dhcpd's `domain-name` type).
    DomainName,
    /// A record `{ T, T, ... }`, or an array of records, or an array of a type above
    /// has no variant of its own for (`array of boolean`).
    Record(RecordType),
}

/// A field of a record: dhcpd's fixed-size types, and `text`/`string` as the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `ip-address`
    Ip,
    /// `unsigned integer 8`
    U8,
    /// `unsigned integer 16`
    U16,
    /// `unsigned integer 32`
    U32,
    /// `signed integer 8` or `integer 8`
    I8,
    /// `signed integer 16` or `integer 16`
    I16,
    /// `signed integer 32` or `integer 32`
    I32,
    /// `boolean`
    Bool,
    /// `text` (last field only)
    Text,
    /// `string` (last field only)
    String,
    /// `domain-name` (last field only)
    DomainName,
    /// `domain-list` (last field only, not in an `array of` record): quoted names
    /// separated by commas, each in DNS wire format, uncompressed (dhcpd's bytes).
    DomainList,
}

/// Most fields a record may have here (dhcpd's limit is its 128-byte format buffer).
pub const MAX_RECORD_FIELDS: usize = 16;

/// A record type, as `option NAME code N = [array of] { FIELD, ... };` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordType {
    fields: [Field; MAX_RECORD_FIELDS],
    len: u8,
    /// `array of { ... }`: records separated by commas.
    pub array: bool,
    /// The last field is `array of T`: its values repeat, separated by commas.
    pub tail_array: bool,
}

impl RecordType {
    /// The fields in order.
    pub fn fields(&self) -> &[Field] {
        self.fields.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// One field type, written as words (`unsigned integer 8`, `ip-address`, ...).
fn parse_field(w: &[&str]) -> Option<Field> {
    Some(match w {
        ["ip-address"] => Field::Ip,
        ["unsigned", "integer", "8"] => Field::U8,
        ["unsigned", "integer", "16"] => Field::U16,
        ["unsigned", "integer", "32"] => Field::U32,
        ["signed", "integer", "8"] | ["integer", "8"] => Field::I8,
        ["signed", "integer", "16"] | ["integer", "16"] => Field::I16,
        ["signed", "integer", "32"] | ["integer", "32"] => Field::I32,
        ["boolean"] | ["flag"] => Field::Bool,
        ["text"] => Field::Text,
        ["string"] => Field::String,
        ["domain-name"] => Field::DomainName,
        ["domain-list"] => Field::DomainList,
        _ => return None,
    })
}

/// Parses the fields of a record (`groups`: the words between commas) with dhcpd's
/// rules. The error is dhcpd's reason, or `None` for what xdhcpd does not support
/// (domain names, encapsulations, more than [`MAX_RECORD_FIELDS`] fields).
pub(crate) fn parse_record(array: bool, groups: &[Vec<String>]) -> Result<RecordType, Option<&'static str>> {
    let mut r = RecordType { fields: [Field::U8; MAX_RECORD_FIELDS], len: 0, array, tail_array: false };
    if groups.is_empty() || groups.len() > MAX_RECORD_FIELDS {
        return Err(if groups.is_empty() { Some("a record needs at least one type") } else { None });
    }
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let w: Vec<&str> = g.iter().map(String::as_str).collect();
        let (inner_array, w) = match w.as_slice() {
            ["array", "of", rest @ ..] => (true, rest.to_vec()),
            _ => (false, w),
        };
        let f = parse_field(&w).ok_or(None)?;
        if inner_array {
            if array {
                return Err(Some("no nested arrays"));
            }
            if !last {
                return Err(None);
            }
            if matches!(f, Field::Text | Field::String | Field::DomainName) {
                return Err(Some("arrays of text strings not yet supported"));
            }
            r.tail_array = true;
        }
        if matches!(f, Field::Text | Field::String | Field::DomainName) {
            if array {
                return Err(Some("arrays of text strings not yet supported"));
            }
            if !last {
                return Err(Some("text must be at end of record"));
            }
        }
        if f == Field::DomainList {
            // dhcpd takes it as the last field of a single record (checked with dhcpd
            // -t: first, or `array of domain-list`, refused); xdhcpd not in an `array
            // of { ... }` record, which it has not compared.
            if inner_array || !last {
                return Err(Some("domain-list must be the last field of a record"));
            }
            if array {
                return Err(None);
            }
            // Its names repeat after the record's other values, separated by commas.
            r.tail_array = true;
        }
        if let Some(slot) = r.fields.get_mut(i) {
            *slot = f;
        }
        r.len = r.len.saturating_add(1);
    }
    Ok(r)
}

/// A value being encoded: bytes, with the places of host names still to look up.
#[derive(Default)]
struct Parts {
    parts: Vec<ValuePart>,
    /// Whether a host name may stand for an address (only where the names are looked
    /// up afterwards: DHCP options, see [`encode_value`]).
    names_allowed: bool,
}

impl Parts {
    fn push(&mut self, data: &[u8]) {
        match self.parts.last_mut() {
            Some(ValuePart::Bytes(b)) => b.extend_from_slice(data),
            _ => self.parts.push(ValuePart::Bytes(data.to_vec())),
        }
    }

    /// All bytes, or `None` when a name is left.
    fn into_bytes(self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for p in self.parts {
            match p {
                ValuePart::Bytes(b) => out.extend(b),
                ValuePart::Name { .. } => return None,
            }
        }
        Some(out)
    }
}

/// Encodes one field's value.
fn encode_field(f: Field, tok: &Token, out: &mut Parts) -> Result<(), ConfigError> {
    let one = |ty: OptionType| encode(ty, std::slice::from_ref(tok), &tok.span);
    let bytes: Vec<u8> = match f {
        Field::Ip => match parse_host_addr(tok)? {
            HostAddr::Ip(ip) => ip.octets().to_vec(),
            // A record is no "uniform" format: dhcpd takes the first address.
            HostAddr::Name(name) if out.names_allowed => {
                out.parts.push(ValuePart::Name { name, all_addresses: false });
                return Ok(());
            }
            HostAddr::Name(_) => {
                return Err(invalid(tok, "IPv4 address", "a host name is not supported here yet"));
            }
        },
        Field::U8 => vec![parse_int::<u8>(tok, "unsigned 8-bit integer")?],
        Field::U16 => parse_int::<u16>(tok, "unsigned 16-bit integer")?.to_be_bytes().to_vec(),
        Field::U32 => parse_int::<u32>(tok, "unsigned 32-bit integer")?.to_be_bytes().to_vec(),
        Field::I8 => parse_int::<i8>(tok, "signed 8-bit integer")?.to_be_bytes().to_vec(),
        Field::I16 => parse_int::<i16>(tok, "signed 16-bit integer")?.to_be_bytes().to_vec(),
        Field::I32 => parse_int::<i32>(tok, "signed 32-bit integer")?.to_be_bytes().to_vec(),
        Field::Bool => vec![u8::from(parse_bool(tok)?)],
        Field::Text => one(T::Text)?,
        Field::String => one(T::String)?,
        Field::DomainName => one(T::DomainName)?,
        Field::DomainList => one(T::DomainList)?,
    };
    out.push(&bytes);
    Ok(())
}

/// Encodes a record value: the fields one after the other, records (or the values of
/// a trailing `array of` field) separated by commas, as dhcpd reads them.
/// `names_allowed`: a host name may stand for an address field (the caller looks it up).
fn encode_record(
    r: &RecordType,
    values: &[Token],
    after: &Span,
    names_allowed: bool,
) -> Result<Vec<ValuePart>, ConfigError> {
    let fields = r.fields();
    let groups: Vec<&[Token]> = values.split(|t| t.kind == TokenKind::Comma).collect();
    let short = |group: &[Token]| {
        let at = group.last().map_or(after, |t| &t.span);
        ConfigError::new(
            at,
            ErrorKind::InvalidValue {
                what: "option value".into(),
                value: group.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" "),
                reason: format!("expected {} values, one per field of the record", fields.len()),
            },
        )
    };
    let mut out = Parts { parts: Vec::new(), names_allowed };
    for (i, group) in groups.iter().enumerate() {
        if i > 0 && !r.array {
            match (r.tail_array, fields.last(), group) {
                (true, Some(f), [tok]) => {
                    encode_field(*f, tok, &mut out)?;
                    continue;
                }
                (true, _, _) => return Err(short(group)),
                (false, _, _) => {
                    // A second group means a comma was written (groups may be empty).
                    return Err(match values.iter().find(|t| t.kind == TokenKind::Comma) {
                        Some(comma) => invalid(comma, "option value", "this option takes a single record"),
                        None => short(group),
                    });
                }
            }
        }
        if group.len() != fields.len() {
            return Err(short(group));
        }
        for (f, tok) in fields.iter().zip(group.iter()) {
            encode_field(*f, tok, &mut out)?;
        }
    }
    Ok(out.parts)
}

/// A record's bytes; a host name in it is refused (nothing would look it up).
fn encode_record_bytes(r: &RecordType, values: &[Token], after: &Span) -> Result<Vec<u8>, ConfigError> {
    let parts = encode_record(r, values, after, false)?;
    // With names refused every part is bytes.
    Ok(Parts { parts, names_allowed: false }.into_bytes().unwrap_or_default())
}

/// An option definition: standard or declared with `option NAME code N = TYPE;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDef {
    /// The name used in `option NAME ...`.
    pub name: String,
    /// The option code.
    pub code: u8,
    /// How values are written and encoded.
    pub ty: OptionType,
}

use OptionType as T;

/// dhcpd's standard DHCPv4 options we encode (the most used ones).
const STANDARD: &[(&str, u8, OptionType)] = &[
    ("subnet-mask", 1, T::IpAddress),
    ("time-offset", 2, T::I32),
    ("routers", 3, T::IpArray),
    ("time-servers", 4, T::IpArray),
    ("ien116-name-servers", 5, T::IpArray),
    ("domain-name-servers", 6, T::IpArray),
    ("log-servers", 7, T::IpArray),
    ("cookie-servers", 8, T::IpArray),
    ("lpr-servers", 9, T::IpArray),
    ("impress-servers", 10, T::IpArray),
    ("resource-location-servers", 11, T::IpArray),
    ("host-name", 12, T::Text),
    ("boot-size", 13, T::U16),
    ("merit-dump", 14, T::Text),
    ("domain-name", 15, T::Text),
    ("swap-server", 16, T::IpAddress),
    ("root-path", 17, T::Text),
    ("extensions-path", 18, T::Text),
    ("ip-forwarding", 19, T::Boolean),
    ("non-local-source-routing", 20, T::Boolean),
    ("max-dgram-reassembly", 22, T::U16),
    ("default-ip-ttl", 23, T::U8),
    ("path-mtu-aging-timeout", 24, T::U32),
    ("path-mtu-plateau-table", 25, T::U16Array),
    ("interface-mtu", 26, T::U16),
    ("all-subnets-local", 27, T::Boolean),
    ("broadcast-address", 28, T::IpAddress),
    ("perform-mask-discovery", 29, T::Boolean),
    ("mask-supplier", 30, T::Boolean),
    ("router-discovery", 31, T::Boolean),
    ("router-solicitation-address", 32, T::IpAddress),
    ("static-routes", 33, T::IpPairs),
    ("trailer-encapsulation", 34, T::Boolean),
    ("arp-cache-timeout", 35, T::U32),
    ("ieee802-3-encapsulation", 36, T::Boolean),
    ("default-tcp-ttl", 37, T::U8),
    ("tcp-keepalive-interval", 38, T::U32),
    ("tcp-keepalive-garbage", 39, T::Boolean),
    ("nis-domain", 40, T::Text),
    ("nis-servers", 41, T::IpArray),
    ("ntp-servers", 42, T::IpArray),
    ("vendor-encapsulated-options", 43, T::String),
    ("netbios-name-servers", 44, T::IpArray),
    ("netbios-dd-server", 45, T::IpArray),
    ("netbios-node-type", 46, T::U8),
    ("netbios-scope", 47, T::Text),
    ("font-servers", 48, T::IpArray),
    ("x-display-manager", 49, T::IpArray),
    ("dhcp-requested-address", 50, T::IpAddress),
    ("dhcp-lease-time", 51, T::U32),
    ("dhcp-server-identifier", 54, T::IpAddress),
    ("dhcp-message", 56, T::Text),
    ("dhcp-max-message-size", 57, T::U16),
    ("dhcp-renewal-time", 58, T::U32),
    ("dhcp-rebinding-time", 59, T::U32),
    ("vendor-class-identifier", 60, T::String),
    ("dhcp-client-identifier", 61, T::String),
    ("nisplus-domain", 64, T::Text),
    ("nisplus-servers", 65, T::IpArray),
    ("tftp-server-name", 66, T::Text),
    ("bootfile-name", 67, T::Text),
    ("mobile-ip-home-agent", 68, T::IpArray),
    ("smtp-server", 69, T::IpArray),
    ("pop-server", 70, T::IpArray),
    ("nntp-server", 71, T::IpArray),
    ("www-server", 72, T::IpArray),
    ("finger-server", 73, T::IpArray),
    ("irc-server", 74, T::IpArray),
    ("streettalk-server", 75, T::IpArray),
    ("streettalk-directory-assistance-server", 76, T::IpArray),
    ("user-class", 77, T::String),
    ("uap-servers", 98, T::Text),
    ("subnet-selection", 118, T::IpAddress),
    ("domain-search", 119, T::DomainListCompressed),
    ("sip-ua-cs-domains", 141, T::DomainListCompressed),
    ("vivco", 124, T::String),
    ("vivso", 125, T::String),
    ("pxe-system-type", 93, T::U16Array),
    ("default-url", 114, T::Text),
    // The rest of dhcpd 4.4's table (common/tables.c) that a simple type expresses.
    ("policy-filter", 21, T::IpPairs),
    ("dhcp-option-overload", 52, T::U8),
    ("dhcp-message-type", 53, T::U8),
    ("dhcp-parameter-request-list", 55, T::U8Array),
    ("nwip-domain", 62, T::Text),
    ("nds-servers", 85, T::IpArray),
    ("nds-tree-name", 86, T::Text),
    ("nds-context", 87, T::Text),
    ("bcms-controller-names", 88, T::DomainList),
    ("bcms-controller-address", 89, T::IpArray),
    ("client-last-transaction-time", 91, T::U32),
    ("associated-ip", 92, T::IpArray),
    ("geoconf-civic", 99, T::String),
    ("pcode", 100, T::Text),
    ("tcode", 101, T::Text),
    ("v6-only-preferred", 108, T::U32),
    ("netinfo-server-address", 112, T::IpArray),
    ("netinfo-server-tag", 113, T::Text),
    ("auto-config", 116, T::U8),
    ("name-service-search", 117, T::U16Array),
    ("pxe-undefined-1", 128, T::String),
    ("pxe-undefined-2", 129, T::String),
    ("pxe-undefined-3", 130, T::String),
    ("pxe-undefined-4", 131, T::String),
    ("pxe-undefined-5", 132, T::String),
    ("pxe-undefined-6", 133, T::String),
    ("pxe-undefined-7", 134, T::String),
    ("pxe-undefined-8", 135, T::String),
    ("ipv4-address-andsf", 142, T::IpArray),
    ("tftp-server-address", 150, T::IpArray),
    ("v4-captive-portal", 160, T::Text),
    ("loader-configfile", 209, T::Text),
    ("loader-pathprefix", 210, T::Text),
    ("loader-reboottime", 211, T::U32),
];

/// dhcpd's standard options whose type is a record, written as `option ... code N = {...}`
/// would write it (fields between commas).
const STANDARD_RECORDS: &[(&str, u8, &[&str])] = &[
    ("slp-directory-agent", 78, &["boolean", "array of ip-address"]),
    ("slp-service-scope", 79, &["boolean", "text"]),
    ("pxe-interface-id", 94, &["unsigned integer 8", "unsigned integer 8", "unsigned integer 8"]),
    ("pxe-client-id", 97, &["unsigned integer 8", "string"]),
    ("v4-portparams", 159, &["unsigned integer 8", "unsigned integer 8", "unsigned integer 16"]),
    ("pxelinux-magic", 208, &["unsigned integer 8", "unsigned integer 8", "unsigned integer 8", "unsigned integer 8"]),
];

/// The option names known while reading a file: dhcpd's standard ones plus those the
/// file defines. A definition takes effect from its statement on, as in dhcpd.
#[derive(Debug, Clone)]
pub(crate) struct OptionTable {
    by_name: HashMap<String, OptionDef>,
}

impl OptionTable {
    /// The table with the standard options only.
    pub fn standard() -> Self {
        let mut by_name = HashMap::new();
        for &(name, code, ty) in STANDARD {
            by_name.insert(name.to_string(), OptionDef { name: name.to_string(), code, ty });
        }
        for &(name, code, fields) in STANDARD_RECORDS {
            let groups: Vec<Vec<String>> =
                fields.iter().map(|f| f.split_whitespace().map(str::to_string).collect()).collect();
            if let Ok(r) = parse_record(false, &groups) {
                by_name.insert(name.to_string(), OptionDef { name: name.to_string(), code, ty: T::Record(r) });
            }
        }
        // `client-identifier` is accepted as a short alias of option 61.
        by_name.insert(
            "client-identifier".to_string(),
            OptionDef { name: "client-identifier".to_string(), code: 61, ty: T::String },
        );
        OptionTable { by_name }
    }

    /// Looks a name up (case-insensitively, as dhcpd does).
    pub fn get(&self, name: &str) -> Option<&OptionDef> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    /// Adds or replaces a user definition.
    pub fn define(&mut self, def: OptionDef) {
        self.by_name.insert(def.name.to_ascii_lowercase(), def);
    }
}

/// Looks up a standard option by its dhcpd name: code and type.
pub fn standard_option(name: &str) -> Option<(u8, OptionType)> {
    STANDARD.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)).map(|&(_, c, t)| (c, t))
}

/// Parses the type of `option NAME code N = TYPE;`, given as words.
/// Returns `None` for types we do not support (records, encapsulations, ...).
pub(crate) fn parse_type(words: &[&str]) -> Option<OptionType> {
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let w: Vec<&str> = lower.iter().map(String::as_str).collect();
    Some(match w.as_slice() {
        ["ip-address"] => T::IpAddress,
        ["array", "of", "ip-address"] => T::IpArray,
        ["unsigned", "integer", "8"] => T::U8,
        ["unsigned", "integer", "16"] => T::U16,
        ["unsigned", "integer", "32"] => T::U32,
        ["signed", "integer", "8"] => T::I8,
        ["signed", "integer", "16"] => T::I16,
        ["signed", "integer", "32"] => T::I32,
        ["array", "of", "unsigned", "integer", "8"] => T::U8Array,
        ["array", "of", "unsigned", "integer", "16"] => T::U16Array,
        ["array", "of", "unsigned", "integer", "32"] => T::U32Array,
        ["text"] => T::Text,
        ["string"] => T::String,
        ["boolean"] | ["flag"] => T::Boolean,
        ["domain-list"] => T::DomainList,
        ["domain-list", "compressed"] => T::DomainListCompressed,
        ["domain-name"] => T::DomainName,
        ["integer", "8"] => T::I8,
        ["integer", "16"] => T::I16,
        ["integer", "32"] => T::I32,
        // Other arrays of a fixed-size type: a one-field record, repeated.
        ["array", "of", rest @ ..] => {
            let f = parse_field(rest)?;
            if matches!(f, Field::Text | Field::String | Field::DomainName) {
                return None;
            }
            T::Record(RecordType { fields: [f; MAX_RECORD_FIELDS], len: 1, array: true, tail_array: false })
        }
        _ => return None,
    })
}

fn invalid(tok: &Token, what: &str, reason: &str) -> ConfigError {
    ConfigError::new(
        &tok.span,
        ErrorKind::InvalidValue { what: what.to_string(), value: tok.text.clone(), reason: reason.to_string() },
    )
}

/// Parses a dotted-quad IPv4 address word.
pub(crate) fn parse_ip(tok: &Token) -> Result<Ipv4Addr, ConfigError> {
    match tok.kind {
        TokenKind::Word => tok.text.parse().map_err(|_| {
            invalid(tok, "IPv4 address", "expected a dotted-quad address (a host name is not allowed here)")
        }),
        _ => Err(invalid(tok, "IPv4 address", "expected a dotted-quad address")),
    }
}

/// Parses an IPv4 address or a host name, as dhcpd's `ip-addr-or-hostname`: a word of
/// digits and dots must be a valid address; anything else must be a host name (labels
/// of letters, digits, `-` and `_`, separated by dots).
pub(crate) fn parse_host_addr(tok: &Token) -> Result<HostAddr, ConfigError> {
    let bad = || invalid(tok, "address", "expected an IPv4 address or a host name");
    let TokenKind::Word = tok.kind else {
        return Err(bad());
    };
    if let Ok(ip) = tok.text.parse::<Ipv4Addr>() {
        return Ok(HostAddr::Ip(ip));
    }
    let looks_numeric = tok.text.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
    let name = tok.text.strip_suffix('.').unwrap_or(&tok.text);
    let valid_name = !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'));
    if looks_numeric || !valid_name {
        return Err(bad());
    }
    Ok(HostAddr::Name(tok.text.clone()))
}

/// Whether dhcpd's lexer reads `word` as one identifier token (a name, a keyword or a
/// hex-looking number): letters, digits, `-` and `_`, not a plain decimal number. Text
/// options accept such a word unquoted (`option domain-name example;`); a dot ends the
/// token in dhcpd, so `example.com` must be quoted.
pub(crate) fn is_dhcpd_identifier(word: &str) -> bool {
    let all_allowed = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let digits = word.strip_prefix('-').unwrap_or(word);
    let number = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
    all_allowed && !number && word != "-"
}

/// An encoded option value: bytes, or addresses still to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Encoded {
    Bytes(Vec<u8>),
    Named(NamedValue),
}

/// Encodes like [`encode`], except that an address option written with host names
/// gives the list to look up instead of bytes.
pub(crate) fn encode_value(ty: OptionType, values: &[Token], after: &Span) -> Result<Encoded, ConfigError> {
    let values = join_split_hex(values);
    let values: &[Token] = &values;
    if let T::Record(r) = &ty
        && !values.is_empty()
    {
        let parts = encode_record(r, values, after, true)?;
        let named = parts.iter().any(|p| matches!(p, ValuePart::Name { .. }));
        return Ok(if named {
            Encoded::Named(NamedValue { parts })
        } else {
            Encoded::Bytes(Parts { parts, names_allowed: true }.into_bytes().unwrap_or_default())
        });
    }
    let address_type = matches!(ty, T::IpAddress | T::IpArray | T::IpPairs);
    let has_name =
        values.iter().any(|t| t.kind == TokenKind::Word && matches!(parse_host_addr(t), Ok(HostAddr::Name(_))));
    if !address_type || !has_name {
        return encode(ty, values, after).map(Encoded::Bytes);
    }
    // Check the shape (commas, pairs) as for literals, then read each part.
    let groups: Vec<&[Token]> = values.split(|t| t.kind == TokenKind::Comma).collect();
    if ty == T::IpAddress && groups.len() > 1 {
        let comma = values.iter().find(|t| t.kind == TokenKind::Comma).unwrap_or(&values[0]);
        return Err(invalid(comma, "option value", "this option takes a single value"));
    }
    let per = if ty == T::IpPairs { 2 } else { 1 };
    let mut parts = Vec::new();
    for group in groups {
        if group.len() != per {
            let tok = group.get(per).or(group.first()).unwrap_or(&values[0]);
            let reason = if ty == T::IpPairs { "expected 'destination router'" } else { "expected one value here" };
            return Err(invalid(tok, "option value", reason));
        }
        for tok in group {
            parts.push(match parse_host_addr(tok)? {
                HostAddr::Ip(ip) => ValuePart::Bytes(ip.octets().to_vec()),
                // dhcpd's "uniform" formats (arrays of addresses) take every address of
                // a name; single addresses and pairs take the first.
                HostAddr::Name(name) => ValuePart::Name { name, all_addresses: ty == T::IpArray },
            });
        }
    }
    Ok(Encoded::Named(NamedValue { parts }))
}

/// Parses a decimal integer word into any integer type, with a range error.
pub(crate) fn parse_int<N: TryFrom<i64>>(tok: &Token, what: &str) -> Result<N, ConfigError> {
    let n: i64 =
        tok.word().and_then(|w| w.parse().ok()).ok_or_else(|| invalid(tok, what, "expected a decimal number"))?;
    N::try_from(n).map_err(|_| invalid(tok, what, "out of range"))
}

/// Parses colon-separated hex (`01:2:ff`): each part one or two hex digits.
pub(crate) fn parse_hex_bytes(text: &str) -> Option<Vec<u8>> {
    text.split(':').map(|p| if (1..=2).contains(&p.len()) { u8::from_str_radix(p, 16).ok() } else { None }).collect()
}

/// Parses a boolean word as dhcpd does.
pub(crate) fn parse_bool(tok: &Token) -> Result<bool, ConfigError> {
    match tok.word().map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "on") => Ok(true),
        Some("false" | "off") => Ok(false),
        _ => Err(invalid(tok, "boolean", "expected true, false, on or off")),
    }
}

/// Encodes one domain name in DNS wire format (RFC 1035 §3.1), without compression.
fn encode_domain(tok: &Token, name: &[u8], out: &mut Vec<u8>) -> Result<(), ConfigError> {
    let start = out.len();
    for label in name.split(|&b| b == b'.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return Err(invalid(tok, "domain name", "a label is longer than 63 bytes"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    if out.len() == start {
        return Err(invalid(tok, "domain name", "empty name"));
    }
    out.push(0);
    if out.len() - start > 255 {
        return Err(invalid(tok, "domain name", "longer than 255 bytes"));
    }
    Ok(())
}

/// Joins colon-separated hex that continues over blanks or lines (`2:4:` then `AC:11:41:1:`
/// on the next line, as dhcp-options(5)'s vendor-encapsulated-options example writes it):
/// dhcpd's lexer makes each colon its own token, so whitespace around one does not end
/// the value. A word ending or starting with a colon is glued to its neighbour.
fn join_split_hex(values: &[Token]) -> std::borrow::Cow<'_, [Token]> {
    let splits = values.windows(2).any(|w| {
        w[0].kind == TokenKind::Word
            && w[1].kind == TokenKind::Word
            && (w[0].text.ends_with(':') || w[1].text.starts_with(':'))
    });
    if !splits {
        return std::borrow::Cow::Borrowed(values);
    }
    let mut out: Vec<Token> = Vec::with_capacity(values.len());
    for t in values {
        match out.last_mut() {
            Some(prev)
                if prev.kind == TokenKind::Word
                    && t.kind == TokenKind::Word
                    && (prev.text.ends_with(':') || t.text.starts_with(':')) =>
            {
                prev.text.push_str(&t.text)
            }
            _ => out.push(t.clone()),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Encodes one domain name with RFC 1035 §4.1.4 compression: the longest suffix already
/// written (compared without regard to case, as dhcpd's resolver code does) becomes a
/// pointer, offsets counted from the start of the option's data (RFC 3397 §2). `suffixes`
/// remembers where every suffix written so far starts.
fn encode_domain_compressed(
    tok: &Token,
    name: &[u8],
    out: &mut Vec<u8>,
    suffixes: &mut Vec<(Vec<u8>, u16)>,
) -> Result<(), ConfigError> {
    // Validate (label and name lengths) the way the uncompressed form does.
    let mut plain = Vec::new();
    encode_domain(tok, name, &mut plain)?;
    let labels: Vec<&[u8]> = name.split(|&b| b == b'.').filter(|l| !l.is_empty()).collect();
    let key = |from: usize| -> Vec<u8> { labels[from..].join(&b'.').to_ascii_lowercase() };
    for i in 0..labels.len() {
        if let Some((_, at)) = suffixes.iter().find(|(k, _)| *k == key(i)) {
            let at = *at;
            for (j, label) in labels[..i].iter().enumerate() {
                remember(suffixes, key(j), out.len());
                out.push(label.len() as u8);
                out.extend_from_slice(label);
            }
            out.extend_from_slice(&(0xc000 | at).to_be_bytes());
            return Ok(());
        }
    }
    for (j, label) in labels.iter().enumerate() {
        remember(suffixes, key(j), out.len());
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    Ok(())
}

/// A suffix starting at `at` can be pointed to if the offset fits a pointer's 14 bits.
fn remember(suffixes: &mut Vec<(Vec<u8>, u16)>, key: Vec<u8>, at: usize) {
    if let Ok(at) = u16::try_from(at)
        && at < 0x4000
    {
        suffixes.push((key, at));
    }
}

/// Encodes the value tokens of `option NAME VALUE, ...;` for an option of type `ty`.
/// `after` is the span to blame when the value is missing.
pub(crate) fn encode(ty: OptionType, values: &[Token], after: &Span) -> Result<Vec<u8>, ConfigError> {
    let values = join_split_hex(values);
    let values: &[Token] = &values;
    // Split on commas; most types take one token per element.
    let groups: Vec<&[Token]> = values.split(|t| t.kind == TokenKind::Comma).collect();
    let missing = || {
        ConfigError::new(
            after,
            ErrorKind::InvalidValue {
                what: "option value".into(),
                value: String::new(),
                reason: "missing value".into(),
            },
        )
    };
    if values.is_empty() {
        return Err(missing());
    }
    if let T::Record(r) = &ty {
        return encode_record_bytes(r, values, after);
    }
    let is_array = matches!(
        ty,
        T::IpArray | T::IpPairs | T::U8Array | T::U16Array | T::U32Array | T::DomainList | T::DomainListCompressed
    );
    if !is_array && groups.len() > 1 {
        let comma = values.iter().find(|t| t.kind == TokenKind::Comma).unwrap_or(&values[0]);
        return Err(invalid(comma, "option value", "this option takes a single value"));
    }
    let mut out = Vec::new();
    // Where each name suffix already written starts (compressed domain lists).
    let mut suffixes: Vec<(Vec<u8>, u16)> = Vec::new();
    for group in groups {
        let per = if ty == T::IpPairs { 2 } else { 1 };
        if group.len() != per {
            let tok = group.get(per).or(group.first()).unwrap_or(&values[0]);
            let reason = if ty == T::IpPairs { "expected 'destination router'" } else { "expected one value here" };
            return Err(invalid(tok, "option value", reason));
        }
        let tok = &group[0];
        match ty {
            T::IpAddress | T::IpArray => out.extend_from_slice(&parse_ip(tok)?.octets()),
            T::IpPairs => {
                out.extend_from_slice(&parse_ip(tok)?.octets());
                out.extend_from_slice(&parse_ip(&group[1])?.octets());
            }
            T::U8 | T::U8Array => out.push(parse_int::<u8>(tok, "unsigned 8-bit integer")?),
            T::U16 | T::U16Array => {
                out.extend_from_slice(&parse_int::<u16>(tok, "unsigned 16-bit integer")?.to_be_bytes())
            }
            T::U32 | T::U32Array => {
                out.extend_from_slice(&parse_int::<u32>(tok, "unsigned 32-bit integer")?.to_be_bytes())
            }
            T::I8 => out.extend_from_slice(&parse_int::<i8>(tok, "signed 8-bit integer")?.to_be_bytes()),
            T::I16 => out.extend_from_slice(&parse_int::<i16>(tok, "signed 16-bit integer")?.to_be_bytes()),
            T::I32 => out.extend_from_slice(&parse_int::<i32>(tok, "signed 32-bit integer")?.to_be_bytes()),
            T::Boolean => out.push(u8::from(parse_bool(tok)?)),
            T::Text => match &tok.kind {
                TokenKind::Str(b) => out.extend_from_slice(b),
                TokenKind::Word if is_dhcpd_identifier(&tok.text) => out.extend_from_slice(tok.text.as_bytes()),
                _ => {
                    return Err(invalid(
                        tok,
                        "text",
                        "expected a quoted string (unquoted, only letters, digits, '-' and '_')",
                    ));
                }
            },
            T::String => match &tok.kind {
                TokenKind::Str(b) => out.extend_from_slice(b),
                TokenKind::Word => out.extend(
                    parse_hex_bytes(&tok.text)
                        .ok_or_else(|| invalid(tok, "string", "expected a quoted string or colon-separated hex"))?,
                ),
                _ => {
                    return Err(invalid(tok, "string", "expected a quoted string or colon-separated hex"));
                }
            },
            T::DomainList => match &tok.kind {
                TokenKind::Str(b) => encode_domain(tok, b, &mut out)?,
                _ => return Err(invalid(tok, "domain name", "expected a quoted domain name")),
            },
            T::DomainListCompressed => match &tok.kind {
                TokenKind::Str(b) => encode_domain_compressed(tok, b, &mut out, &mut suffixes)?,
                _ => return Err(invalid(tok, "domain name", "expected a quoted domain name")),
            },
            // dhcpd reads a host name here (labels of name characters or digits), not a
            // string.
            T::DomainName => match &tok.kind {
                TokenKind::Word
                    if tok.text.strip_suffix('.').unwrap_or(&tok.text).split('.').all(|l| {
                        !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    }) =>
                {
                    encode_domain(tok, tok.text.as_bytes(), &mut out)?
                }
                _ => return Err(invalid(tok, "domain name", "expected an unquoted domain name")),
            },
            // Encoded above, before the values are split.
            T::Record(r) => out.extend(encode_record_bytes(&r, group, after)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn toks(text: &str) -> Vec<Token> {
        let mut e = Vec::new();
        crate::lexer::tokenize(&Arc::from("t"), text, &mut e)
    }

    fn enc(ty: OptionType, text: &str) -> Result<Vec<u8>, ConfigError> {
        encode(ty, &toks(text), &Span::start_of("t"))
    }

    #[test]
    fn ip_arrays() {
        assert_eq!(enc(T::IpArray, "8.8.8.8, 8.8.4.4").ok(), Some(vec![8, 8, 8, 8, 8, 8, 4, 4]));
        assert!(enc(T::IpAddress, "1.2.3.4, 5.6.7.8").is_err());
        assert!(enc(T::IpAddress, "host.example.com").is_err());
    }

    #[test]
    fn integers_check_range() {
        assert_eq!(enc(T::U16, "1500").ok(), Some(vec![0x05, 0xdc]));
        assert!(enc(T::U16, "70000").is_err());
        assert_eq!(enc(T::I32, "-3600").ok(), Some((-3600i32).to_be_bytes().to_vec()));
    }

    #[test]
    fn strings_and_hex() {
        assert_eq!(enc(T::String, "01:52:54:0:aa:bb").ok(), Some(vec![1, 0x52, 0x54, 0, 0xaa, 0xbb]));
        assert_eq!(enc(T::String, "\"ab\"").ok(), Some(b"ab".to_vec()));
        assert_eq!(enc(T::Text, "\"example.com\"").ok(), Some(b"example.com".to_vec()));
        // dhcpd -t: `option domain-name example.com;` -> "semicolon expected" (a dot ends
        // its token), `option domain-name example;` and `example-com` are accepted.
        assert!(enc(T::Text, "example.com").is_err());
        assert_eq!(enc(T::Text, "example-com").ok(), Some(b"example-com".to_vec()));
        assert_eq!(enc(T::Text, "1abc").ok(), Some(b"1abc".to_vec()));
        assert!(enc(T::Text, "123").is_err());
        assert!(enc(T::Text, "-").is_err());
    }

    /// dhcp-options(5)'s domain-search example, as a real dhcpd 4.4.3 sends it (captured by
    /// the compat harness: `man-dhcp-options.5-05.conf`).
    #[test]
    fn domain_search_is_compressed_as_dhcpd_sends_it() {
        let v = enc(T::DomainListCompressed, "\"example.com\", \"sales.example.com\", \"eng.example.com\"").ok();
        let want = b"\x07example\x03com\x00\x05sales\xc0\x00\x03eng\xc0\x00".to_vec();
        assert_eq!(v, Some(want));
        // Case does not matter for a match; a deeper suffix is found too.
        let v = enc(T::DomainListCompressed, "\"a.b.Example.COM\", \"c.b.example.com\"").ok();
        let want = b"\x01a\x01b\x07Example\x03COM\x00\x01c\xc0\x02".to_vec();
        assert_eq!(v, Some(want));
    }

    #[test]
    fn domain_search_rfc3397() {
        let v = enc(T::DomainList, "\"eng.example.com\", \"example.com.\"").ok();
        let mut want = b"\x03eng\x07example\x03com\x00".to_vec();
        want.extend_from_slice(b"\x07example\x03com\x00");
        assert_eq!(v, Some(want));
        assert!(enc(T::DomainList, "\"\"").is_err());
    }

    #[test]
    fn static_routes_pairs() {
        assert_eq!(enc(T::IpPairs, "10.0.0.0 10.0.0.1").ok(), Some(vec![10, 0, 0, 0, 10, 0, 0, 1]));
        assert!(enc(T::IpPairs, "10.0.0.0").is_err());
    }

    #[test]
    fn records() {
        let groups = |s: &str| -> Vec<Vec<String>> {
            s.split(',').map(|g| g.split_whitespace().map(str::to_string).collect()).collect()
        };
        let r = parse_record(false, &groups("boolean, integer 32, text")).expect("record");
        assert_eq!(r.fields(), [Field::Bool, Field::I32, Field::Text]);
        assert_eq!(enc(T::Record(r), "on 1772 \"x\"").ok(), Some(vec![1, 0, 0, 6, 0xec, b'x']));
        assert!(enc(T::Record(r), "on 1772").is_err(), "a field missing");
        assert!(enc(T::Record(r), "on 1772 \"x\", off 1 \"y\"").is_err(), "one record only");
        // Empty groups (a stray or trailing comma) are errors, never a panic.
        for text in ["on 1772 \"x\",", ",", "on,,1772", ", on 1 \"x\""] {
            assert!(enc(T::Record(r), text).is_err(), "{text}");
        }
        let r = parse_record(true, &groups("ip-address, integer 8")).expect("array of records");
        assert_eq!(enc(T::Record(r), "10.0.0.1 -1, 10.0.0.2 2").ok(), Some(vec![10, 0, 0, 1, 0xff, 10, 0, 0, 2, 2]));
        assert!(enc(T::Record(r), "host.test 1").is_err(), "names in records are refused for now");
        let r = parse_record(false, &groups("ip-address, array of unsigned integer 8")).expect("tail array");
        assert!(r.tail_array);
        assert_eq!(enc(T::Record(r), "10.0.0.1 1, 2").ok(), Some(vec![10, 0, 0, 1, 1, 2]));
        for text in ["10.0.0.1 1,", "10.0.0.1 1,,2", ","] {
            assert!(enc(T::Record(r), text).is_err(), "{text}");
        }
        // dhcpd's refusals, with its words.
        assert_eq!(parse_record(false, &groups("text, ip-address")).err(), Some(Some("text must be at end of record")));
        assert_eq!(
            parse_record(true, &groups("ip-address, text")).err(),
            Some(Some("arrays of text strings not yet supported"))
        );
        assert_eq!(parse_record(true, &groups("array of ip-address")).err(), Some(Some("no nested arrays")));
        // domain-list as the last field: dhcpd 4.4.3's bytes (capture-offers.py).
        let r = parse_record(false, &groups("ip-address, domain-list")).expect("domain-list last");
        let hex = |h: &str| {
            (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        assert_eq!(
            enc(T::Record(r), "198.18.0.9 \"a.example\", \"b.test\"").ok(),
            Some(hex("c61200090161076578616d706c65000162047465737400"))
        );
        let r = parse_record(false, &groups("unsigned integer 8, domain-list")).expect("domain-list last");
        assert_eq!(enc(T::Record(r), "7 \"c.example\"").ok(), Some(hex("070163076578616d706c6500")));
        assert!(enc(T::Record(r), "7 c.example").is_err(), "quoted names");
        // Refused by dhcpd too: not last, an array of it.
        assert!(parse_record(false, &groups("domain-list, ip-address")).is_err());
        assert!(parse_record(false, &groups("ip-address, array of domain-list")).is_err());
        assert_eq!(parse_record(true, &groups("ip-address, domain-list")).err(), Some(None), "not supported");
        let r = parse_record(false, &groups("ip-address, domain-name")).expect("domain name last");
        assert_eq!(enc(T::Record(r), "1.2.3.4 a.b.").ok(), Some(vec![1, 2, 3, 4, 1, b'a', 1, b'b', 0]));
        assert!(enc(T::DomainName, "\"a.b\"").is_err(), "dhcpd wants a host name, not a string");
        assert!(enc(T::DomainName, "a..b").is_err());
        assert_eq!(parse_record(false, &[]).err(), Some(Some("a record needs at least one type")));
        let many = vec![vec!["boolean".to_string()]; MAX_RECORD_FIELDS + 1];
        assert_eq!(parse_record(false, &many).err(), Some(None));
    }

    #[test]
    fn type_names() {
        assert_eq!(parse_type(&["array", "of", "ip-address"]), Some(T::IpArray));
        assert_eq!(parse_type(&["unsigned", "integer", "16"]), Some(T::U16));
        assert_eq!(parse_type(&["{", "text", "}"]), None);
        assert_eq!(standard_option("routers"), Some((3, T::IpArray)));
    }
}
