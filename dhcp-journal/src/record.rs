//! Record types of the lease file: leases, failover state blocks and OMAPI hosts.
//!
//! All times are Unix seconds (UTC). The lease file writes them as
//! `W YYYY/MM/DD HH:MM:SS;` in UTC, or `never;` (dhcpd's `MAX_TIME`).

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::Ipv4Addr;

/// dhcpd's `MAX_TIME` (0x7fffffff). dhcpd writes this value as `never;` and reads `never;`
/// back as it. In [`LeaseRecord::ends`] `never` is `None`; in every other time field it
/// reads as `Some(NEVER)`.
pub const NEVER: u32 = 0x7fff_ffff;

/// A hardware address: (htype, address bytes). htype 1 = ethernet, 6 = token-ring,
/// 8 = fddi, 32 = infiniband (the names dhcpd writes).
pub type Hardware = (u8, Vec<u8>);

/// Binding states and failover states are defined once, in `dhcp-common`, with their
/// lease-file names (`name`, `from_name`).
pub use dhcp_common::{BindingState, FailoverState};

/// One `lease A.B.C.D { … }` record.
///
/// Time fields are `None` when the statement is absent (dhcpd omits zero times).
/// `ends` is special, following dhcpd: `None` = `ends never;`, `Some(0)` = no `ends`
/// statement (dhcpd's in-memory 0, e.g. backup leases), `Some(t)` = a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    pub ip: Ipv4Addr,
    pub starts: Option<u32>,
    pub ends: Option<u32>,
    pub tstp: Option<u32>,
    pub tsfp: Option<u32>,
    pub atsfp: Option<u32>,
    pub cltt: Option<u32>,
    pub binding_state: BindingState,
    /// Written only when `Some`; dhcpd writes it only when it differs from `binding_state`.
    pub next_binding_state: Option<BindingState>,
    /// Written only when `Some`; dhcpd writes it only when it differs from `binding_state`.
    pub rewind_binding_state: Option<BindingState>,
    /// `reserved;` flag.
    pub reserved: bool,
    /// `dynamic-bootp;` flag.
    pub bootp: bool,
    pub hardware: Option<Hardware>,
    /// Client identifier (raw option 61 value).
    pub uid: Option<Vec<u8>>,
    pub client_hostname: Option<String>,
    /// Stored as `set vendor-class-identifier = "…";` (a dhcpd binding-scope variable).
    pub vendor_class: Option<String>,
    /// The other binding-scope variables (dhcpd's `set` statements), in file order.
    pub vars: Vec<(String, VarValue)>,
    /// `billing class "NAME";` (`None` value) or `billing subclass "NAME" VALUE;`: the
    /// class (with a lease limit) the lease is billed to.
    pub billing: Option<(String, Option<Vec<u8>>)>,
    /// `on expiry|release [or ...] { ... }`: the lease's pending event statements, as
    /// dhcpd writes them after `client-hostname`.
    pub events: Vec<EventStatements>,
}

/// An `on` statement of a lease (dhcpd writes `on expiry [or release] { ... }` and
/// `on release { ... }`): the events and the statements' text between the braces, kept
/// as text (they are the configuration's statements, compiled by whoever reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStatements {
    pub expiry: bool,
    pub release: bool,
    /// The statements between the braces, as written (not empty).
    pub text: String,
}

/// A binding-scope variable's value, of one of the types dhcpd's write_binding_scope
/// writes: `set NAME = "…";` (data), `set NAME = %N;` (a number, signed as dhcpd's
/// `long`), `set NAME = true;` / `false;` (a boolean).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarValue {
    Data(Vec<u8>),
    Num(i64),
    Bool(bool),
}

impl LeaseRecord {
    /// A record with only the address and binding state set (`ends` not recorded).
    pub fn new(ip: Ipv4Addr, binding_state: BindingState) -> Self {
        Self {
            ip,
            starts: None,
            ends: Some(0),
            tstp: None,
            tsfp: None,
            atsfp: None,
            cltt: None,
            binding_state,
            next_binding_state: None,
            rewind_binding_state: None,
            reserved: false,
            bootp: false,
            hardware: None,
            uid: None,
            client_hostname: None,
            vendor_class: None,
            vars: Vec::new(),
            billing: None,
            events: Vec::new(),
        }
    }

    /// `tstp` as dhcpd's reader sees it: an absent `tstp` means `tstp = ends`.
    pub fn effective_tstp(&self) -> Option<u32> {
        match self.tstp {
            Some(t) => Some(t),
            None => match self.ends {
                None => Some(NEVER),
                Some(0) => None,
                Some(t) => Some(t),
            },
        }
    }
}

/// `failover peer "NAME" state { my state … at …; partner state … at …; [mclt N;] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverStateRecord {
    pub peer: String,
    pub my_state: FailoverState,
    /// Start time of my state.
    pub my_stos: u32,
    pub partner_state: FailoverState,
    pub partner_stos: u32,
    /// dhcpd writes it only on a secondary.
    pub mclt: Option<u32>,
}

/// `host NAME { dynamic; … }` written for OMAPI-created hosts; `deleted;` for removed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub name: String,
    pub hardware: Option<Hardware>,
    pub uid: Option<Vec<u8>>,
    pub fixed_address: Option<Ipv4Addr>,
    pub deleted: bool,
}

/// One record of the lease file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Lease(LeaseRecord),
    FailoverState(FailoverStateRecord),
    Host(HostRecord),
}

/// The folded content of a lease file: what a server loads at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The last record for each address.
    pub leases: LeaseTable,
    /// Live hosts by name (a `deleted` record removes the host).
    pub hosts: HashMap<String, HostRecord>,
    /// Names whose last host record was `deleted` (kept so that compaction still deletes a
    /// host that another source, e.g. the configuration, declares).
    pub deleted_hosts: BTreeSet<String>,
    /// The last state block for each peer name.
    pub failover: HashMap<String, FailoverStateRecord>,
}

impl State {
    /// An empty state with room for `leases` leases.
    pub fn with_capacity(leases: usize) -> Self {
        Self { leases: LeaseTable::with_capacity(leases), ..Self::default() }
    }

    /// Apply one record: the later record wins.
    pub fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Lease(l) => {
                self.leases.insert(l);
            }
            Entry::FailoverState(f) => {
                self.failover.insert(f.peer.clone(), f);
            }
            Entry::Host(h) => {
                if h.deleted {
                    self.hosts.remove(&h.name);
                    self.deleted_hosts.insert(h.name);
                } else {
                    self.deleted_hosts.remove(&h.name);
                    self.hosts.insert(h.name.clone(), h);
                }
            }
        }
    }

    /// The records a compacted file holds, in a stable order: failover states (by peer),
    /// hosts (by name, tombstones included), then leases (by address).
    pub fn to_entries(&self) -> Vec<Entry> {
        let mut out =
            Vec::with_capacity(self.failover.len() + self.hosts.len() + self.deleted_hosts.len() + self.leases.len());
        let mut peers: Vec<&FailoverStateRecord> = self.failover.values().collect();
        peers.sort_by(|a, b| a.peer.cmp(&b.peer));
        out.extend(peers.into_iter().cloned().map(Entry::FailoverState));
        let mut hosts: Vec<&HostRecord> = self.hosts.values().collect();
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(hosts.into_iter().cloned().map(Entry::Host));
        out.extend(self.deleted_hosts.iter().map(|name| {
            Entry::Host(HostRecord {
                name: name.clone(),
                hardware: None,
                uid: None,
                fixed_address: None,
                deleted: true,
            })
        }));
        let mut leases: Vec<&LeaseRecord> = self.leases.iter().collect();
        leases.sort_unstable_by_key(|l| l.ip);
        out.extend(leases.into_iter().cloned().map(Entry::Lease));
        out
    }
}

/// Fold records in file order: the last lease per address wins, hosts fold by name
/// (`deleted` removes), the last failover state per peer wins.
pub fn fold<I: IntoIterator<Item = Entry>>(entries: I) -> State {
    let iter = entries.into_iter();
    let mut state = State::with_capacity(iter.size_hint().0);
    for e in iter {
        state.apply(e);
    }
    state
}

/// Leases by address: a dense vector of records plus an address → slot index. (A hash map
/// of whole records costs twice the memory, which dominated folding 1M leases.)
#[derive(Debug, Clone, Default)]
pub struct LeaseTable {
    records: Vec<LeaseRecord>,
    index: HashMap<Ipv4Addr, usize, IpBuildHasher>,
}

impl LeaseTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self { records: Vec::with_capacity(n), index: HashMap::with_capacity_and_hasher(n, IpBuildHasher::default()) }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn contains(&self, ip: &Ipv4Addr) -> bool {
        self.index.contains_key(ip)
    }

    pub fn get(&self, ip: &Ipv4Addr) -> Option<&LeaseRecord> {
        self.index.get(ip).and_then(|&i| self.records.get(i))
    }

    /// Insert or replace the record for `rec.ip`; returns the replaced one.
    pub fn insert(&mut self, rec: LeaseRecord) -> Option<LeaseRecord> {
        match self.index.get(&rec.ip) {
            Some(&i) => self.records.get_mut(i).map(|slot| std::mem::replace(slot, rec)),
            None => {
                self.index.insert(rec.ip, self.records.len());
                self.records.push(rec);
                None
            }
        }
    }

    pub fn remove(&mut self, ip: &Ipv4Addr) -> Option<LeaseRecord> {
        let i = self.index.remove(ip)?;
        if i >= self.records.len() {
            return None;
        }
        let rec = self.records.swap_remove(i);
        if let Some(moved) = self.records.get(i) {
            self.index.insert(moved.ip, i);
        }
        Some(rec)
    }

    /// Records in no particular order.
    pub fn iter(&self) -> std::slice::Iter<'_, LeaseRecord> {
        self.records.iter()
    }

    /// The records, in no particular order.
    pub fn into_records(self) -> Vec<LeaseRecord> {
        self.records
    }
}

impl std::ops::Index<&Ipv4Addr> for LeaseTable {
    type Output = LeaseRecord;

    /// Panics when there is no record for `ip` (like `HashMap`'s `Index`).
    fn index(&self, ip: &Ipv4Addr) -> &LeaseRecord {
        match self.get(ip) {
            Some(r) => r,
            None => panic!("no lease for {ip}"),
        }
    }
}

impl PartialEq for LeaseTable {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|r| other.get(&r.ip) == Some(r))
    }
}

impl Eq for LeaseTable {}

impl<'a> IntoIterator for &'a LeaseTable {
    type Item = &'a LeaseRecord;
    type IntoIter = std::slice::Iter<'a, LeaseRecord>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

/// A fast hasher for the lease table (keys are our own pool addresses, so no DoS
/// hardening is needed): multiply-xorshift over the few words an `Ipv4Addr` hashes.
#[derive(Debug, Default, Clone, Copy)]
pub struct IpHasher(u64);

/// `BuildHasher` of [`State::leases`].
pub type IpBuildHasher = BuildHasherDefault<IpHasher>;

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IpHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(MUL);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(32) ^ u64::from(n)).wrapping_mul(MUL);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(32) ^ n).wrapping_mul(MUL);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        let h = self.0 ^ (self.0 >> 31);
        let h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^ (h >> 29)
    }
}
