//! Leases: the record (with the failover fields), client keys, and the lock-free store.

pub mod record;
pub mod store;

pub use store::{LeaseStore, PoolId, Take};

use crate::time::{NEVER, UnixSecs};
use std::net::Ipv4Addr;

/// Binding state of a lease: one type (in `dhcp-common`) for the lease file, the store, the
/// failover rules and the wire (`BindingStatus::from`, `BindingState::try_from`).
pub use dhcp_common::BindingState;

/// Who a lease belongs to: the client identifier (option 61) when the client sends one, else
/// its hardware address. Byte 0 says which, so the two spaces never collide.
///
/// Kept inline up to [`INLINE_KEY`] bytes (a MAC's key is 8, a typical client identifier 8):
/// a separate allocation would cost 32 bytes per lease, an eighth of the goal of 256 bytes
/// per bound lease (issue 14). Longer keys go to the heap. Equality, hashing and order are
/// those of the bytes, whichever the representation.
#[derive(Clone)]
pub struct ClientKey(KeyRepr);

/// Bytes a [`ClientKey`] holds without an allocation.
pub const INLINE_KEY: usize = 22;

#[derive(Clone)]
enum KeyRepr {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

impl ClientKey {
    fn new(kind: u8, head: &[u8], rest: &[u8]) -> ClientKey {
        let len = 1 + head.len() + rest.len();
        if len <= INLINE_KEY {
            let mut bytes = [0u8; INLINE_KEY];
            bytes[0] = kind;
            bytes[1..1 + head.len()].copy_from_slice(head);
            bytes[1 + head.len()..len].copy_from_slice(rest);
            ClientKey(KeyRepr::Inline { len: len as u8, bytes })
        } else {
            let mut v = Vec::with_capacity(len);
            v.push(kind);
            v.extend_from_slice(head);
            v.extend_from_slice(rest);
            ClientKey(KeyRepr::Heap(v.into_boxed_slice()))
        }
    }

    pub fn from_client_id(id: &[u8]) -> ClientKey {
        ClientKey::new(0, &[], id)
    }

    pub fn from_hw(htype: u8, chaddr: &[u8]) -> ClientKey {
        ClientKey::new(1, &[htype], chaddr)
    }

    fn bytes(&self) -> &[u8] {
        match &self.0 {
            KeyRepr::Inline { len, bytes } => &bytes[..usize::from(*len).min(INLINE_KEY)],
            KeyRepr::Heap(b) => b,
        }
    }

    /// The option-61 payload if this key is a client identifier.
    pub fn client_id(&self) -> Option<&[u8]> {
        match self.bytes().split_first() {
            Some((0, rest)) => Some(rest),
            _ => None,
        }
    }

    /// The bytes the RFC 3074 hash covers for this client (dhcpd: the uid, else the
    /// hardware address without its type byte).
    pub fn hash_key(&self) -> &[u8] {
        match self.bytes().split_first() {
            Some((0, rest)) => rest,
            Some((_, rest)) => rest.get(1..).unwrap_or(&[]),
            None => &[],
        }
    }
}

impl PartialEq for ClientKey {
    fn eq(&self, other: &ClientKey) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for ClientKey {}

impl std::hash::Hash for ClientKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.bytes().hash(h);
    }
}

impl PartialOrd for ClientKey {
    fn partial_cmp(&self, other: &ClientKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ClientKey {
    fn cmp(&self, other: &ClientKey) -> std::cmp::Ordering {
        self.bytes().cmp(other.bytes())
    }
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClientKey").field(&self.bytes()).finish()
    }
}

/// A hardware address: htype + up to 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HwAddr {
    pub htype: u8,
    pub len: u8,
    pub bytes: [u8; 16],
}

impl HwAddr {
    pub fn new(htype: u8, addr: &[u8]) -> HwAddr {
        let mut bytes = [0u8; 16];
        let len = addr.len().min(16);
        bytes[..len].copy_from_slice(&addr[..len]);
        HwAddr { htype, len: len as u8, bytes }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..(self.len as usize).min(16)]
    }
}

/// The event statements a lease keeps (`on release`, `on expiry`), with their text (the
/// lease file holds it, as dhcpd's does). Read back from the file, a block has its text
/// only until [`crate::dhcp::Engine::restore`] finds its statements in the
/// configuration.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LeaseEvents {
    pub release: Option<std::sync::Arc<dhcp_config::model::OnBlock>>,
    pub expiry: Option<std::sync::Arc<dhcp_config::model::OnBlock>>,
}

/// A billing class: a class with a lease limit, or one of its subclasses (declared or
/// spawned), by name and value, so that it survives reloads and restarts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Billing {
    /// The class's name.
    pub class: Box<str>,
    /// The subclass's value (`None`: the class itself).
    pub subclass: Option<Box<[u8]>>,
}

/// An address offered but not yet requested: reserved in memory for a few seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub client: ClientKey,
    pub expires: UnixSecs,
}

/// One address and what is known about it. The failover fields follow dhcpd's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub pool: PoolId,
    pub state: BindingState,
    /// Start of the current binding (`starts`).
    pub starts: UnixSecs,
    /// End of the current binding (`ends`); [`NEVER`] for infinite.
    pub ends: UnixSecs,
    /// Time sent to the partner: the lease end this server may promise (`tstp`).
    pub tstp: UnixSecs,
    /// Time the partner acknowledged (`tsfp`) and the ack'ed value (`atsfp`).
    pub tsfp: UnixSecs,
    pub atsfp: UnixSecs,
    /// Client last transaction time (`cltt`).
    pub cltt: UnixSecs,
    pub client: Option<ClientKey>,
    pub hw: Option<HwAddr>,
    pub hostname: Option<Box<str>>,
    /// Binding-scope variables (`set NAME = ...;` of the configuration, run when the lease
    /// was bound), kept in the lease file as dhcpd keeps them. Boxed: most leases have none.
    pub vars: Option<Box<dhcp_config::Vars>>,
    /// The class (with a `lease limit`) this lease is billed to, as dhcpd bills it.
    pub billing: Option<Box<Billing>>,
    /// The `on release` / `on expiry` statements in force when the lease was granted,
    /// written to the lease file as dhcpd writes them (`on expiry or release { ... }`).
    pub on_events: Option<std::sync::Arc<LeaseEvents>>,
    /// In-memory only: an outstanding offer. Boxed: it lives seconds, and a bound lease
    /// should not carry its 24 bytes (issue 14's bytes per lease).
    pub offer: Option<Box<Offer>>,
    /// In-memory only: bit q set = the address is in its pool's free queue q.
    pub queued: u8,
    /// Only on the copy handed to the journal: the DNS updates this change calls for,
    /// started once it is durable (`runtime::ddns`). Never kept in the store.
    pub ddns: Option<std::sync::Arc<crate::ddns::Job>>,
}

impl Lease {
    pub fn free(ip: Ipv4Addr, pool: PoolId) -> Lease {
        Lease {
            ip,
            pool,
            state: BindingState::Free,
            starts: 0,
            ends: 0,
            tstp: 0,
            tsfp: 0,
            atsfp: 0,
            cltt: 0,
            client: None,
            hw: None,
            hostname: None,
            vars: None,
            billing: None,
            on_events: None,
            offer: None,
            queued: 0,
            ddns: None,
        }
    }

    /// Active and not past its end at `now`.
    pub fn is_bound_at(&self, now: UnixSecs) -> bool {
        matches!(self.state, BindingState::Active | BindingState::Bootp) && (self.ends == NEVER || self.ends > now)
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;

    /// Inline and heap keys behave alike: the same bytes are the same key, the option-61
    /// payload and the hashed bytes come back whole, and a 255-byte identifier still fits.
    #[test]
    fn client_keys_of_every_length() {
        for n in [0usize, 1, 6, 20, 21, 22, 40, 255] {
            let id: Vec<u8> = (0..n).map(|i| i as u8 ^ 0x5a).collect();
            let k = ClientKey::from_client_id(&id);
            assert_eq!(k.client_id(), Some(id.as_slice()), "{n} bytes");
            assert_eq!(k.hash_key(), id.as_slice());
            assert_eq!(k, ClientKey::from_client_id(&id));
            assert_ne!(k, ClientKey::from_hw(1, &id), "the two spaces never collide");
            let hw = ClientKey::from_hw(1, &id[..n.min(16)]);
            assert_eq!(hw.client_id(), None);
            assert_eq!(hw.hash_key(), &id[..n.min(16)]);
        }
        let (short, long) = (ClientKey::from_client_id(&[1; 21]), ClientKey::from_client_id(&[1; 30]));
        assert!(short < long, "order of the bytes, across representations");
        assert!(std::mem::size_of::<Option<ClientKey>>() <= 24);
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn lease_size() {
        eprintln!("size_of::<Lease>() = {}", std::mem::size_of::<super::Lease>());
        eprintln!("size_of::<Option<Offer>>() = {}", std::mem::size_of::<Option<super::Offer>>());
        eprintln!("size_of::<Option<HwAddr>>() = {}", std::mem::size_of::<Option<super::HwAddr>>());
    }
}
