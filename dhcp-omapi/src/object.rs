//! Object types, typed values for replies, and typed views of request values.

use std::net::Ipv4Addr;

use crate::wire::{NameValue, Values, uint_of};

/// The object types omshell can name in `new TYPE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectType {
    Lease,
    Host,
    FailoverState,
    Control,
    /// Any other type name (class, subclass, pool, group, subnet, ...).
    Other(String),
}

impl ObjectType {
    pub fn from_name(name: &str) -> ObjectType {
        match name {
            "lease" => ObjectType::Lease,
            "host" => ObjectType::Host,
            "failover-state" => ObjectType::FailoverState,
            "control" => ObjectType::Control,
            other => ObjectType::Other(other.to_owned()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ObjectType::Lease => "lease",
            ObjectType::Host => "host",
            ObjectType::FailoverState => "failover-state",
            ObjectType::Control => "control",
            ObjectType::Other(s) => s,
        }
    }
}

/// A typed attribute value for replies. On the wire every value is plain bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// 4-byte big-endian int (negative numbers: two's complement, `x as u32`).
    Int(u32),
    /// 1 byte (lease `flags`).
    Byte(u8),
    /// 4 bytes.
    Ip(Ipv4Addr),
    /// String bytes, no NUL.
    Str(String),
    /// Raw bytes (hardware address, client identifier, ...).
    Bytes(Vec<u8>),
    /// Object handle, 4 bytes (lease `host`, `subnet`, `pool`).
    Handle(u32),
    /// Zero-length value.
    Null,
}

impl Value {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Value::Int(v) | Value::Handle(v) => v.to_be_bytes().to_vec(),
            Value::Byte(b) => vec![*b],
            Value::Ip(a) => a.octets().to_vec(),
            Value::Str(s) => s.as_bytes().to_vec(),
            Value::Bytes(b) => b.clone(),
            Value::Null => Vec::new(),
        }
    }
}

/// Turn typed attributes into a wire list, keeping order.
pub fn to_values<N: Into<String>>(attrs: impl IntoIterator<Item = (N, Value)>) -> Values {
    attrs.into_iter().map(|(n, v)| NameValue::new(n, v.to_bytes())).collect()
}

/// A value in a request that has the wrong shape for its attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("attribute {name}: {expected}")]
pub struct AttrError {
    pub name: String,
    pub expected: &'static str,
}

fn bad(name: &str, expected: &'static str) -> AttrError {
    AttrError { name: name.to_owned(), expected }
}

fn opt_ipv4(v: &Values, name: &str) -> Result<Option<Ipv4Addr>, AttrError> {
    match v.get(name) {
        None => Ok(None),
        Some(b) => <[u8; 4]>::try_from(b)
            .map(|a| Some(Ipv4Addr::from(a)))
            .map_err(|_| bad(name, "expected 4 bytes (IPv4 address)")),
    }
}

fn opt_uint(v: &Values, name: &str) -> Result<Option<u32>, AttrError> {
    match v.get(name) {
        None => Ok(None),
        Some(b) => uint_of(b).map(Some).ok_or_else(|| bad(name, "expected an int (1, 2 or 4 bytes)")),
    }
}

fn opt_str(v: &Values, name: &str) -> Result<Option<String>, AttrError> {
    match v.get(name) {
        None => Ok(None),
        Some(b) => {
            let b = b.strip_suffix(&[0]).unwrap_or(b);
            std::str::from_utf8(b).map(|s| Some(s.to_owned())).map_err(|_| bad(name, "expected a string"))
        }
    }
}

/// Hardware address as OMAPI carries it: `hardware-address` (MAC without type) and
/// `hardware-type` (int, defaults to 1 = Ethernet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardwareAddr {
    pub htype: u32,
    pub addr: Vec<u8>,
}

/// The lookup keys of a lease OPEN. Several keys may be present; the server must answer
/// KEYCONFLICT if they match different leases and MULTIPLE if one key matches several.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseLookup {
    pub handle: Option<u32>,
    pub ip_address: Option<Ipv4Addr>,
    pub client_identifier: Option<Vec<u8>>,
    pub hardware: Option<HardwareAddr>,
}

impl LeaseLookup {
    pub fn from_values(v: &Values) -> Result<LeaseLookup, AttrError> {
        let hardware = match v.get("hardware-address") {
            None => None,
            Some(a) => Some(HardwareAddr { htype: opt_uint(v, "hardware-type")?.unwrap_or(1), addr: a.to_vec() }),
        };
        Ok(LeaseLookup {
            handle: opt_uint(v, "handle")?,
            ip_address: opt_ipv4(v, "ip-address")?,
            client_identifier: v.get("dhcp-client-identifier").map(<[u8]>::to_vec),
            hardware,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.handle.is_none()
            && self.ip_address.is_none()
            && self.client_identifier.is_none()
            && self.hardware.is_none()
    }
}

/// Host attributes as sent in a host OPEN (lookup keys, or the new host on `create`) or UPDATE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAttrs {
    pub handle: Option<u32>,
    pub name: Option<String>,
    pub group: Option<String>,
    pub hardware_address: Option<Vec<u8>>,
    pub hardware_type: Option<u32>,
    pub client_identifier: Option<Vec<u8>>,
    /// `ip-address` (fixed-address), 4 bytes.
    pub ip_address: Option<Ipv4Addr>,
    pub statements: Option<String>,
    pub known: Option<u32>,
    /// Names dhcpd does not know for a host: answer DHCP_R_UNKNOWNATTRIBUTE
    /// (dhcpd's message on create: "can't update object").
    pub unknown: Vec<String>,
}

impl HostAttrs {
    pub const KNOWN: &'static [&'static str] = &[
        "handle",
        "name",
        "group",
        "hardware-address",
        "hardware-type",
        "dhcp-client-identifier",
        "ip-address",
        "statements",
        "known",
    ];

    pub fn from_values(v: &Values) -> Result<HostAttrs, AttrError> {
        let unknown =
            v.iter().filter(|nv| !Self::KNOWN.contains(&nv.name.as_str())).map(|nv| nv.name.clone()).collect();
        Ok(HostAttrs {
            handle: opt_uint(v, "handle")?,
            name: opt_str(v, "name")?,
            group: opt_str(v, "group")?,
            hardware_address: v.get("hardware-address").map(<[u8]>::to_vec),
            hardware_type: opt_uint(v, "hardware-type")?,
            client_identifier: v.get("dhcp-client-identifier").map(<[u8]>::to_vec),
            ip_address: opt_ipv4(v, "ip-address")?,
            statements: opt_str(v, "statements")?,
            known: opt_uint(v, "known")?,
            unknown,
        })
    }
}

/// Lease attributes a client may set with UPDATE (others give NOPERM in dhcpd).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseUpdate {
    /// Binding state 1..7.
    pub state: Option<u32>,
    pub ends: Option<u32>,
    /// 1 byte or 4-byte int.
    pub flags: Option<u32>,
    /// Attributes that may not be set (`ip-address`, `starts`, `pool`, ...) or are binding-scope
    /// variables; the server decides.
    pub other: Values,
}

impl LeaseUpdate {
    pub fn from_values(v: &Values) -> Result<LeaseUpdate, AttrError> {
        let other = v.iter().filter(|nv| !matches!(nv.name.as_str(), "state" | "ends" | "flags")).cloned().collect();
        Ok(LeaseUpdate {
            state: opt_uint(v, "state")?,
            ends: opt_uint(v, "ends")?,
            flags: opt_uint(v, "flags")?,
            other,
        })
    }
}
