//! The validated configuration, as the server consumes it.
//!
//! Pure data, no positions, no references between parts other than names and indexes.
//! Inheritance is already flattened: every subnet, pool and host carries its
//! [`Effective`] values (global → shared-network → group → subnet → pool, or
//! global → enclosing scopes → host), so a server never walks scopes at run time.

use std::net::Ipv4Addr;

pub use crate::expr::{BoolExpr, DataExpr, NumExpr, OptionRef, Packet, Vars};

/// dhcpd's `default-lease-time` when none is configured (12 hours).
pub const DEFAULT_LEASE_TIME: u32 = 43_200;
/// dhcpd's `max-lease-time` when none is configured (24 hours).
pub const DEFAULT_MAX_LEASE_TIME: u32 = 86_400;
/// The failover port dhcpd uses when none (or 0) is configured.
pub const DEFAULT_FAILOVER_PORT: u16 = 647;
/// Defaults from the protocol digest §7.1 (`shared/reference/failover-protocol.md`,
/// taken from dhcpd 4.4.3 `server/confpars.c`): a value of 0 in the file also means these.
pub const DEFAULT_MAX_RESPONSE_DELAY: u32 = 20;
/// See [`DEFAULT_MAX_RESPONSE_DELAY`].
pub const DEFAULT_MAX_UNACKED_UPDATES: u32 = 100;
/// Percent; digest §3 and §7.1.
pub const DEFAULT_MAX_LEASE_MISBALANCE: u32 = 15;
/// Percent; digest §3 and §7.1.
pub const DEFAULT_MAX_LEASE_OWNERSHIP: u32 = 10;
/// Seconds; digest §3 and §7.1.
pub const DEFAULT_MIN_BALANCE: u32 = 60;
/// Seconds; digest §3 and §7.1.
pub const DEFAULT_MAX_BALANCE: u32 = 3_600;
/// Windows' default reserve for hot standby, used by `hot-standby-reserve;` without a value.
pub const DEFAULT_HOT_STANDBY_RESERVE: u8 = 5;
/// dhcpd's `abandon-lease-time` when none is configured (24 hours, `DEFAULT_ABANDON_LEASE_TIME`).
pub const DEFAULT_ABANDON_LEASE_TIME: u32 = 86_400;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Every shared network in file order. A subnet declared outside any
    /// `shared-network` is a shared network of its own, named after its address.
    pub shared_networks: Vec<SharedNetwork>,
    /// Every host declaration, wherever it was declared.
    pub hosts: Vec<Host>,
    /// Every `failover peer "name" { }` declaration.
    pub failover_peers: Vec<FailoverPeer>,
    /// Every `key` declaration.
    pub keys: Vec<Key>,
    /// `omapi-port N;` (OMAPI is off without it, as in dhcpd).
    pub omapi_port: Option<u16>,
    /// `omapi-key NAME;`, the name of one of [`Config::keys`].
    pub omapi_key: Option<String>,
    /// `ddns-update-style` of the global scope (dhcpd reads it there only).
    pub ddns_update_style: DdnsUpdateStyle,
    /// `zone NAME { ... }` declarations (used by DNS updates only).
    pub zones: Vec<Zone>,
    /// `option space NAME ...;` declarations.
    pub option_spaces: Vec<OptionSpace>,
    /// `option NAME code N = encapsulate SPACE;`: option N carries the options of SPACE
    /// in force in a scope, unless the scope gives option N a value itself.
    pub encapsulations: Vec<(u8, String)>,
    /// `db-time-format local;` (the last `db-time-format` of the file, wherever it is):
    /// lease file times written as `epoch N; # local date` instead of UTC dates.
    pub db_time_format_local: bool,
    /// `abandon-lease-time` of the global scope (dhcpd reads it there only), seconds an
    /// abandoned (declined) address stays out of use. `u32::MAX` is `infinite`.
    pub abandon_lease_time: u32,
    /// The global scope's values.
    pub global: Effective,
    /// `class` declarations with their subclasses, in file order (the order dhcpd
    /// classifies a packet in).
    pub classes: Vec<Class>,
    /// `interface NAME;` statements that took effect, in file order: each ties an
    /// interface to a shared network (see [`InterfaceBinding`]).
    pub interfaces: Vec<InterfaceBinding>,
    /// The `gethostbyname ("NAME")` operands of the expressions, in file order: filled
    /// in place by [`Config::resolve_host_lookups`], off the request path.
    pub host_lookups: Vec<std::sync::Arc<crate::expr::HostLookup>>,
}

/// `interface NAME;` in a shared-network (or in one of its subnets): dhcpd listens on
/// that interface and serves a request received there without a relay from that shared
/// network, whatever the interface's address. As in dhcpd (server/mdb.c,
/// new_shared_network_interface), the first statement naming an interface ties it; a
/// later one naming it again (in another shared network) has no effect; an interface
/// the server is told to serve on its command line is not tied at all (its address
/// picks its network); and only the named interfaces are served when the command line
/// names none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceBinding {
    /// The interface name (at most 15 characters, as dhcpd keeps it).
    pub name: String,
    /// Index into [`Config::shared_networks`].
    pub shared_network: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            shared_networks: Vec::new(),
            hosts: Vec::new(),
            failover_peers: Vec::new(),
            keys: Vec::new(),
            omapi_port: None,
            omapi_key: None,
            ddns_update_style: DdnsUpdateStyle::None,
            zones: Vec::new(),
            option_spaces: Vec::new(),
            encapsulations: Vec::new(),
            db_time_format_local: false,
            abandon_lease_time: DEFAULT_ABANDON_LEASE_TIME,
            global: Effective::default(),
            classes: Vec::new(),
            interfaces: Vec::new(),
            host_lookups: Vec::new(),
        }
    }
}

impl Config {
    /// Whether some class or subclass has a lease limit (then leases are billed).
    pub fn has_lease_limits(&self) -> bool {
        self.classes.iter().any(|c| c.lease_limit.is_some() || c.subclasses.iter().any(|s| s.lease_limit.is_some()))
    }

    /// Whether a statement anywhere sets or reads a variable (`set`, a variable or
    /// `lease-time` in an expression): the server then keeps binding scopes with the
    /// leases and looks the lease's state up for each answer.
    pub fn uses_variables(&self) -> bool {
        let scope = |e: &Effective| e.dynamic.iter().any(|d| d.action.uses_variables());
        scope(&self.global)
            || self
                .shared_networks
                .iter()
                .any(|n| n.subnets.iter().any(|s| scope(&s.effective)) || n.pools.iter().any(|p| scope(&p.effective)))
            || self.hosts.iter().any(|h| scope(&h.own))
            || self.classes.iter().any(|c| {
                c.match_if.as_ref().is_some_and(BoolExpr::reads_variables)
                    || c.submatch.as_ref().is_some_and(DataExpr::reads_variables)
                    || c.actions.iter().chain(c.subclasses.iter().flat_map(|s| &s.actions)).any(Action::uses_variables)
            })
    }

    /// The failover peer named `name`.
    pub fn failover_peer(&self, name: &str) -> Option<&FailoverPeer> {
        self.failover_peers.iter().find(|p| p.name == name)
    }

    /// The key named `name`.
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Whether some address is written as a host name that [`Config::resolve_names`]
    /// would look up.
    pub fn has_names(&self) -> bool {
        let scope = |e: &Effective| {
            !e.named_options.is_empty()
                || e.next_server_name.is_some()
                || e.server_identifier_name.is_some()
                || e.dynamic.iter().any(|d| has_named(std::slice::from_ref(&d.action)))
        };
        !self.host_lookups.is_empty()
            || scope(&self.global)
            || self
                .shared_networks
                .iter()
                .any(|n| n.subnets.iter().any(|s| scope(&s.effective)) || n.pools.iter().any(|p| scope(&p.effective)))
            || self.hosts.iter().any(|h| scope(&h.effective) || scope(&h.own) || h.fixed_address_names.is_some())
            || self.classes.iter().any(|c| has_named(&c.actions) || c.subclasses.iter().any(|s| has_named(&s.actions)))
    }

    /// The names of the `gethostbyname ("NAME")` operands, once each.
    pub fn host_lookup_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for h in &self.host_lookups {
            if !names.contains(&h.name) {
                names.push(h.name.clone());
            }
        }
        names
    }

    /// Looks the names of the `gethostbyname ("NAME")` operands up with `lookup` and puts
    /// the answers in force at once (they are shared with every copy of this
    /// configuration, the engine's included): all the name's IPv4 addresses, 4 bytes
    /// each, as dhcpd's host lookup gives them; a name that does not resolve is null.
    /// Returns the names that did not resolve, once each.
    pub fn resolve_host_lookups(
        &self,
        lookup: &mut dyn FnMut(&str) -> Result<Vec<Ipv4Addr>, String>,
    ) -> Vec<NameFailure> {
        let mut answers: std::collections::HashMap<String, Result<Vec<Ipv4Addr>, String>> = Default::default();
        let mut failures = Vec::new();
        for h in &self.host_lookups {
            let answer = answers.entry(h.name.clone()).or_insert_with(|| {
                let a = lookup(&h.name).and_then(|a| if a.is_empty() { Err("no IPv4 address".into()) } else { Ok(a) });
                if let Err(reason) = &a {
                    failures.push(NameFailure { name: h.name.clone(), reason: reason.clone() });
                }
                a
            });
            h.set(answer.as_ref().ok().map(|a| a.iter().flat_map(|ip| ip.octets()).collect()));
        }
        failures
    }

    /// Puts the addresses of host names where dhcpd would use them: `fixed-address`,
    /// address options, `next-server` and `server-identifier`. `lookup` is asked once per
    /// distinct name and returns its IPv4 addresses in resolver order, or why it failed.
    ///
    /// A name that does not resolve contributes no address, as in dhcpd's steady state:
    /// dhcpd evaluates these expressions when it answers a client, and keeps a failed
    /// lookup for a minute as an empty answer, so a list keeps its other entries (a
    /// `fixed-address` list its other addresses, an option its other addresses; an
    /// option left empty is not sent) and `next-server` and `server-identifier` fall
    /// back as if not written. (Observed with dhcpd 4.4.3: only the one evaluation that
    /// repeats the failed lookup, once a minute, drops the whole list.) Each failure is
    /// returned once per name, for the log.
    ///
    /// The names are consumed: afterwards [`Config::has_names`] is false. dhcpd repeats
    /// the lookups (an answer is kept an hour, a failure a minute); to look up again,
    /// call this on another copy of the configuration as parsed.
    pub fn resolve_names(&mut self, lookup: &mut dyn FnMut(&str) -> Result<Vec<Ipv4Addr>, String>) -> Vec<NameFailure> {
        let mut r = Resolver { lookup, cache: std::collections::HashMap::new(), failures: Vec::new() };
        r.scope(&mut self.global);
        for n in &mut self.shared_networks {
            for s in &mut n.subnets {
                r.scope(&mut s.effective);
            }
            for p in &mut n.pools {
                r.scope(&mut p.effective);
            }
        }
        for h in &mut self.hosts {
            r.scope(&mut h.effective);
            r.scope(&mut h.own);
            if let Some(parts) = h.fixed_address_names.take() {
                h.fixed_addresses = r.list(&parts, true);
            }
        }
        for c in &mut self.classes {
            r.actions(&mut c.actions);
            for s in &mut c.subclasses {
                r.actions(&mut s.actions);
            }
        }
        r.failures
    }
}

/// Whether `actions` (or nested ones) hold host names to look up.
fn has_named(actions: &[Action]) -> bool {
    actions.iter().any(|a| match a {
        Action::NamedOption { .. }
        | Action::NamedAppend { .. }
        | Action::NamedSpaceOption { .. }
        | Action::NextServerName(_) => true,
        Action::If { then, otherwise, .. } => has_named(then) || has_named(otherwise),
        Action::On { block, .. } => has_named(&block.actions),
        Action::Switch { arms, .. } => arms.iter().any(|a| has_named(&a.actions)),
        _ => false,
    })
}

/// A host name that did not resolve, with the resolver's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFailure {
    /// The name as written.
    pub name: String,
    /// Why the lookup failed.
    pub reason: String,
}

/// The lookups of one [`Config::resolve_names`] call, each name asked once.
struct Resolver<'a> {
    lookup: &'a mut dyn FnMut(&str) -> Result<Vec<Ipv4Addr>, String>,
    cache: std::collections::HashMap<String, Option<Vec<Ipv4Addr>>>,
    failures: Vec<NameFailure>,
}

impl Resolver<'_> {
    fn name(&mut self, name: &str) -> Option<Vec<Ipv4Addr>> {
        if let Some(v) = self.cache.get(name) {
            return v.clone();
        }
        let v = match (self.lookup)(name) {
            Ok(a) if !a.is_empty() => Some(a),
            Ok(_) => {
                self.failures.push(NameFailure { name: name.to_string(), reason: "no IPv4 address".into() });
                None
            }
            Err(reason) => {
                self.failures.push(NameFailure { name: name.to_string(), reason });
                None
            }
        };
        self.cache.insert(name.to_string(), v.clone());
        v
    }

    /// The addresses of a list written in one statement (a name that fails adds none).
    fn list(&mut self, parts: &[HostAddr], all_addresses: bool) -> Vec<Ipv4Addr> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                HostAddr::Ip(a) => out.push(*a),
                HostAddr::Name(n) => match self.name(n) {
                    Some(a) if all_addresses => out.extend(a),
                    Some(a) => out.extend(a.first()),
                    None => {}
                },
            }
        }
        out
    }

    /// The bytes of a value with names (a name that fails adds none).
    fn value(&mut self, parts: &[ValuePart]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                ValuePart::Bytes(b) => out.extend_from_slice(b),
                ValuePart::Name { name, all_addresses } => match self.name(name) {
                    Some(a) if *all_addresses => out.extend(a.iter().flat_map(|a| a.octets())),
                    Some(a) => out.extend(a.first().map(|a| a.octets()).unwrap_or_default()),
                    None => {}
                },
            }
        }
        out
    }

    /// Host names in per-packet statements (classes, `if` blocks), nested ones too.
    fn actions(&mut self, actions: &mut Vec<Action>) {
        let mut out = Vec::with_capacity(actions.len());
        for a in std::mem::take(actions) {
            match a {
                Action::NamedOption { code, value } => {
                    out.push(Action::Option { code, data: self.value(&value.parts) });
                }
                Action::NamedAppend { code, value, prepend } => {
                    // A name that did not resolve adds nothing (dhcpd's steady state, see
                    // above): the option in force is kept as it was.
                    let expr = crate::expr::DataExpr::Const(self.value(&value.parts));
                    out.push(Action::Append { code, expr, prepend });
                }
                Action::NamedSpaceOption { space, code, value } => {
                    let mut data = self.value(&value.parts);
                    // Whole addresses that a one-byte length can say (a name with very
                    // many addresses is cut short rather than overflow the length).
                    data.truncate(252);
                    out.push(if data.is_empty() {
                        Action::SpaceOptionExpr { space, code, expr: crate::expr::DataExpr::Null }
                    } else {
                        Action::SpaceOption { space, code, data }
                    });
                }
                Action::NextServerName(n) => {
                    if let Some(ip) = self.name(&n).and_then(|a| a.first().copied()) {
                        out.push(Action::NextServer(ip));
                    }
                }
                Action::If { cond, mut then, mut otherwise } => {
                    self.actions(&mut then);
                    self.actions(&mut otherwise);
                    out.push(Action::If { cond, then, otherwise });
                }
                Action::Switch { value, mut arms } => {
                    for a in &mut arms {
                        self.actions(&mut a.actions);
                    }
                    out.push(Action::Switch { value, arms });
                }
                other => out.push(other),
            }
        }
        *actions = out;
    }

    fn scope(&mut self, e: &mut Effective) {
        // A statement that resolves to nothing (a next-server name that did not resolve)
        // is dropped: as if not written.
        e.dynamic = std::mem::take(&mut e.dynamic)
            .into_iter()
            .filter_map(|d| {
                let mut one = vec![d.action];
                self.actions(&mut one);
                one.pop().map(|action| Dynamic { action, shadowed: d.shadowed })
            })
            .collect();
        for (code, value) in std::mem::take(&mut e.named_options) {
            // dhcpd sends no option whose value is empty.
            let bytes = self.value(&value.parts);
            if !bytes.is_empty() {
                e.set_option(code, bytes);
            }
        }
        if let Some(n) = e.next_server_name.take() {
            e.next_server = self.name(&n).and_then(|a| a.first().copied());
        }
        if let Some(n) = e.server_identifier_name.take() {
            e.server_identifier = self.name(&n).and_then(|a| a.first().copied());
        }
    }
}

/// Values in force in one scope after inheritance. Scope parameters: the innermost
/// scope wins. Options: an inner scope replaces an outer option of the same code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// `default-lease-time`, seconds (dhcpd default 43200).
    pub default_lease_time: u32,
    /// `max-lease-time`, seconds (dhcpd default 86400).
    pub max_lease_time: u32,
    /// `min-lease-time`, seconds (default 0).
    pub min_lease_time: u32,
    /// `authoritative;` / `not authoritative;` (dhcpd default: not authoritative).
    pub authoritative: bool,
    /// `server-identifier IP;` or `option dhcp-server-identifier IP;` (option 54 is
    /// kept here only, not in [`Effective::options`]).
    pub server_identifier: Option<Ipv4Addr>,
    /// `server-identifier NAME;`: a host name, resolved by [`Config::resolve_names`]
    /// into [`Effective::server_identifier`] (first address).
    pub server_identifier_name: Option<String>,
    /// `ping-check`: send an ICMP echo to an address before offering it, and abandon it if
    /// something answers. On unless `ping-check false;`, as in dhcpd.
    pub ping_check: bool,
    /// `ping-timeout`, seconds (dhcpd default 1): how long an offer waits for an echo reply.
    pub ping_timeout: u32,
    /// `ping-timeout-ms`: the same in milliseconds; when above 0 it wins (dhcpd 4.4).
    pub ping_timeout_ms: u32,
    /// `ping-cltt-secs` (dhcpd default 60): an address its own client used this recently
    /// is offered again without an echo.
    pub ping_cltt_secs: u32,
    /// `log-facility NAME;` (syslog facility name, as written).
    pub log_facility: Option<String>,
    /// `one-lease-per-client` (default false).
    pub one_lease_per_client: bool,
    /// `allow duplicates` (dhcpd's default) / `deny duplicates`: with
    /// `one-lease-per-client`, a DHCPREQUEST of a client matching a host without client
    /// identifier also releases the other leases of its hardware address.
    pub duplicates: bool,
    /// `update-static-leases` (default false; meaningful with DDNS only): a client given
    /// a host's fixed address gets DNS updates too (dhcpd's ddns_updates, STATIC_LEASE).
    pub update_static_leases: bool,
    /// `get-lease-hostnames` (default false; `true` is refused at load).
    pub get_lease_hostnames: bool,
    /// `use-host-decl-names` (default false).
    pub use_host_decl_names: bool,
    /// `ignore-client-uids` (default false): a lease bound under it records no client
    /// identifier, so the client is known by its hardware address (dhcpd's ack_lease).
    pub ignore_client_uids: bool,
    /// `allow booting` / `deny booting` / `ignore booting` (default allow).
    pub allow_booting: bool,
    /// `next-server IP;` (siaddr).
    pub next_server: Option<Ipv4Addr>,
    /// `next-server NAME;`: a host name, resolved by [`Config::resolve_names`] into
    /// [`Effective::next_server`] (first address).
    pub next_server_name: Option<String>,
    /// `filename "x";` (the BOOTP file field).
    pub filename: Option<String>,
    /// `server-name "x";` (the BOOTP sname field).
    pub server_name: Option<String>,
    /// `allow bootp;` / `deny bootp;` (default allow).
    pub allow_bootp: bool,
    /// `allow unknown-clients;` / `deny unknown-clients;` (default allow). In a pool
    /// this is the pool's permit list; elsewhere it is the scope parameter.
    pub allow_unknown_clients: bool,
    /// `allow dynamic bootp clients;` / `deny dynamic bootp clients;` (default allow).
    pub allow_dynamic_bootp: bool,
    /// Options as (code, wire bytes), sorted by code, one entry per code. The bytes
    /// may exceed 255; the packet writer splits them (RFC 3396).
    pub options: Vec<(u8, Vec<u8>)>,
    /// Address options written with host names (`option domain-name-servers ns1.example;`),
    /// sorted by code, never a code that is also in [`Effective::options`].
    /// [`Config::resolve_names`] moves them into `options`.
    pub named_options: Vec<(u8, NamedValue)>,
    /// The DNS-update statements of this scope (they act only with DDNS on, which
    /// xdhcpd refuses for now; kept for when it is implemented).
    pub ddns: DdnsParams,
    /// `vendor-option-space NAME;`: the option space whose options make up option 43
    /// (vendor-encapsulated-options) when no explicit option 43 is set.
    pub vendor_option_space: Option<String>,
    /// `site-option-space "NAME";`: codes from the space's lowest (at most 224, at
    /// least 128) up are taken from that space instead of the DHCP options.
    pub site_option_space: Option<String>,
    /// `option SPACE.NAME VALUE;` values, in the order dhcpd first stores each code
    /// (outer scopes first, then file order; a new value for a code keeps its place).
    pub space_options: Vec<SpaceOptionValue>,
    /// Whether option 43 in [`Effective::options`] was built from `vendor-option-space`
    /// (not written as `option vendor-encapsulated-options`): a class or an `if` that
    /// changes the space's options builds it again for its client.
    pub option43_built: bool,
    /// Statements of this scope and the enclosing ones whose effect depends on the
    /// client (`if` blocks, `option NAME = expression;`), in the order dhcpd executes
    /// them; each overrides the values above unless shadowed (see [`Dynamic`]).
    pub dynamic: Vec<Dynamic>,
}

impl Default for Effective {
    fn default() -> Self {
        Effective {
            default_lease_time: DEFAULT_LEASE_TIME,
            max_lease_time: DEFAULT_MAX_LEASE_TIME,
            min_lease_time: 0,
            authoritative: false,
            server_identifier: None,
            server_identifier_name: None,
            ping_check: true,
            ping_timeout: 1,
            ping_timeout_ms: 0,
            ping_cltt_secs: 60,
            log_facility: None,
            one_lease_per_client: false,
            duplicates: true,
            update_static_leases: false,
            get_lease_hostnames: false,
            use_host_decl_names: false,
            ignore_client_uids: false,
            allow_booting: true,
            next_server: None,
            next_server_name: None,
            filename: None,
            server_name: None,
            allow_bootp: true,
            allow_unknown_clients: true,
            allow_dynamic_bootp: true,
            options: Vec::new(),
            named_options: Vec::new(),
            ddns: DdnsParams::default(),
            vendor_option_space: None,
            site_option_space: None,
            space_options: Vec::new(),
            option43_built: false,
            dynamic: Vec::new(),
        }
    }
}

impl Effective {
    /// The wire bytes of option `code`, if set.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .binary_search_by_key(&code, |(c, _)| *c)
            .ok()
            .and_then(|i| self.options.get(i))
            .map(|(_, v)| v.as_slice())
    }

    /// Sets option `code`, replacing an earlier value of the same code.
    pub(crate) fn set_option(&mut self, code: u8, data: Vec<u8>) {
        self.named_options.retain(|(c, _)| *c != code);
        match self.options.binary_search_by_key(&code, |(c, _)| *c) {
            Ok(i) => {
                if let Some(slot) = self.options.get_mut(i) {
                    slot.1 = data;
                }
            }
            Err(i) => self.options.insert(i, (code, data)),
        }
    }

    /// Sets option `code` of `space`; a new value for a code already set keeps its place
    /// (dhcpd replaces an option in its slot).
    pub(crate) fn set_space_option(&mut self, space: &str, code: u32, data: Vec<u8>) {
        match self.space_options.iter_mut().find(|o| o.space == space && o.code == code) {
            Some(o) => o.data = data,
            None => self.space_options.push(SpaceOptionValue { space: space.to_string(), code, data }),
        }
    }

    /// Option 43 as dhcpd builds it from `vendor-option-space`: when the scope names a
    /// declared space, sets no option 43 itself, and has options of that space. dhcpd
    /// stores a scope's options in a hash table of 17 buckets (bucket of a code:
    /// `((code & 31) + ((code >> 5) & 31)) % 17`, a new code at the head of its bucket)
    /// and encapsulates them bucket by bucket: that is the order of the sub-options.
    /// Each is code and length in the space's widths, then the value; empty values are
    /// left out.
    pub fn vendor_encapsulation(&self, spaces: &[OptionSpace]) -> Option<Vec<u8>> {
        let name = self.vendor_option_space.as_deref()?;
        if self.option(43).is_some() {
            return None;
        }
        self.space_encapsulation(name, spaces)
    }

    /// The options of space `name` in force in this scope, encapsulated as dhcpd does
    /// (see [`Effective::vendor_encapsulation`]); `None` when there are none.
    pub fn space_encapsulation(&self, name: &str, spaces: &[OptionSpace]) -> Option<Vec<u8>> {
        encapsulate(name, &self.space_options, spaces)
    }

    /// Applies `site-option-space` as dhcpd does when it answers: it takes every code from
    /// `site_code_min` up (the space's lowest code, at most 224, at least 128) from the
    /// site space, so DHCP options with such codes are not sent, and the site space's
    /// options are sent under their own codes.
    pub(crate) fn apply_site_space(&mut self, spaces: &[OptionSpace]) {
        let Some(space) = self.site_option_space.as_deref().and_then(|n| spaces.iter().find(|s| s.name == n)) else {
            return;
        };
        let min = space.min_code.unwrap_or(224).clamp(128, 224);
        let site: Vec<(u8, Vec<u8>)> = self
            .space_options
            .iter()
            .filter(|o| o.space == space.name && (min..=254).contains(&o.code) && !o.data.is_empty())
            .filter_map(|o| Some((u8::try_from(o.code).ok()?, o.data.clone())))
            .collect();
        self.options.retain(|(code, _)| u32::from(*code) < min);
        self.named_options.retain(|(code, _)| u32::from(*code) < min);
        for (code, data) in site {
            self.set_option(code, data);
        }
    }

    /// Sets option `code` to addresses given (partly) by host names, replacing an
    /// earlier value of the same code.
    pub(crate) fn set_named_option(&mut self, code: u8, value: NamedValue) {
        self.options.retain(|(c, _)| *c != code);
        match self.named_options.binary_search_by_key(&code, |(c, _)| *c) {
            Ok(i) => {
                if let Some(slot) = self.named_options.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => self.named_options.insert(i, (code, value)),
        }
    }
}

/// The bucket of dhcpd's option hash tables (includes/dhcpd.h `compute_option_hash`, 17
/// buckets): where it has no other order (no parameter request list, an option space's
/// sub-options), dhcpd sends options bucket by bucket, the latest stored first in each.
pub fn option_hash_bucket(code: u32) -> u32 {
    ((code & 31) + ((code >> 5) & 31)) % 17
}

/// The options of space `name` among `options`, encapsulated as dhcpd does (see
/// [`Effective::vendor_encapsulation`]); `None` when there are none or the space is not
/// declared. Also used per packet, when a class or an `if` sets options of a space.
pub fn encapsulate(name: &str, options: &[SpaceOptionValue], spaces: &[OptionSpace]) -> Option<Vec<u8>> {
    encapsulate_at(name, options, spaces, 0)
}

/// Deepest nesting of encapsulated spaces followed (a space may, written so, contain
/// itself).
const MAX_ENCAPSULATION_DEPTH: usize = 8;

fn encapsulate_at(name: &str, options: &[SpaceOptionValue], spaces: &[OptionSpace], depth: usize) -> Option<Vec<u8>> {
    let space = spaces.iter().find(|s| s.name == name)?;
    // A value the space's length width cannot say (one computed per client) is left out.
    let max = if space.length_width == 1 { 255 } else { 65_535 };
    let mut subs: Vec<(usize, u32, &[u8])> = options
        .iter()
        .filter(|o| o.space == name && !o.data.is_empty() && o.data.len() <= max)
        .enumerate()
        .map(|(i, o)| (i, o.code, o.data.as_slice()))
        .collect();
    // Bucket order; within a bucket, the latest stored first.
    subs.sort_by_key(|&(i, code, _)| (option_hash_bucket(code), std::cmp::Reverse(i)));
    // Then the spaces encapsulated in this one whose sub-option has no value of its
    // own, in the order the spaces were declared (dhcpd's search_subencapsulation);
    // one with nothing to carry is left out.
    let nested: Vec<(u32, Vec<u8>)> = if depth < MAX_ENCAPSULATION_DEPTH {
        space
            .encapsulations
            .iter()
            .filter(|(code, _)| !options.iter().any(|o| o.space == name && o.code == *code))
            .filter_map(|(code, inner)| Some((*code, encapsulate_at(inner, options, spaces, depth + 1)?)))
            .collect()
    } else {
        Vec::new()
    };
    if subs.is_empty() && nested.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut put = |code: u32, data: &[u8]| {
        match space.code_width {
            1 => out.push(code as u8),
            2 => out.extend_from_slice(&(code as u16).to_be_bytes()),
            _ => out.extend_from_slice(&code.to_be_bytes()),
        }
        match space.length_width {
            1 => out.push(data.len() as u8),
            _ => out.extend_from_slice(&(data.len() as u16).to_be_bytes()),
        }
        out.extend_from_slice(data);
    };
    for (_, code, data) in subs {
        put(code, data);
    }
    for (code, data) in &nested {
        put(*code, data);
    }
    Some(out)
}

/// An `option space NAME [code width N] [length width N] [hash size N];` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpace {
    /// The space name.
    pub name: String,
    /// Bytes of a sub-option code: 1 (default), 2 or 4.
    pub code_width: u8,
    /// Bytes of a sub-option length: 1 (default) or 2.
    pub length_width: u8,
    /// The lowest code defined in the space (for `site-option-space`).
    pub min_code: Option<u32>,
    /// `option NAME.SUB code N = encapsulate INNER;` in this space: (N, INNER). Sub-option
    /// N carries INNER's options in force, unless it is given a value itself.
    pub encapsulations: Vec<(u32, String)>,
}

/// One `option SPACE.NAME VALUE;` in force in a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceOptionValue {
    /// The space name.
    pub space: String,
    /// The option's code in its space.
    pub code: u32,
    /// The value's wire bytes.
    pub data: Vec<u8>,
}

/// An address as written where dhcpd accepts an IPv4 address or a host name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostAddr {
    /// A dotted-quad literal.
    Ip(Ipv4Addr),
    /// A host name, looked up through the system resolver (so `/etc/hosts` counts).
    Name(String),
}

/// An option value written with at least one host name: its bytes once the names are
/// looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedValue {
    /// The value's pieces, in order.
    pub parts: Vec<ValuePart>,
}

/// A piece of a [`NamedValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuePart {
    /// Bytes as they are sent.
    Bytes(Vec<u8>),
    /// The addresses of a host name: all of them in an `array of ip-address` option
    /// (dhcpd's "uniform" formats), else the first.
    Name {
        /// The name as written.
        name: String,
        /// Every address, or the first only.
        all_addresses: bool,
    },
}

/// `ddns-update-style` values dhcpd 4.4 accepts (`ad-hoc` is refused at load, as dhcpd
/// refuses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DdnsUpdateStyle {
    /// `none` (also dhcpd's default): no DNS updates.
    #[default]
    None,
    /// `interim`.
    Interim,
    /// `standard`.
    Standard,
    /// `ad-hoc`: dhcpd 4.4 reads it and then refuses to start, and so does xdhcpd.
    AdHoc,
}

/// `allow | deny | ignore client-updates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientUpdates {
    /// `allow client-updates;`
    Allow,
    /// `deny client-updates;`
    Deny,
    /// `ignore client-updates;`
    Ignore,
}

/// The DNS-update parameters of a scope, as written (defaults: `None`, except
/// `ddns-updates`, which dhcpd treats as on when not written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdnsParams {
    /// `ddns-updates on|off` (default on: with an interim or standard style, updates
    /// happen wherever it is not turned off).
    pub updates: bool,
    /// `ddns-domainname`.
    pub domainname: Option<Vec<u8>>,
    /// `ddns-rev-domainname`.
    pub rev_domainname: Option<Vec<u8>>,
    /// `ddns-hostname`.
    pub hostname: Option<Vec<u8>>,
    /// `ddns-ttl`, seconds (`u32::MAX` is `infinite`).
    pub ttl: Option<u32>,
    /// `do-forward-updates`.
    pub do_forward_updates: Option<bool>,
    /// `update-optimization`.
    pub update_optimization: Option<bool>,
    /// `update-conflict-detection`.
    pub update_conflict_detection: Option<bool>,
    /// `ddns-local-address4`.
    pub local_address4: Option<HostAddr>,
    /// `ddns-guard-id-must-match`.
    pub guard_id_must_match: Option<bool>,
    /// `ddns-other-guard-is-dynamic`.
    pub other_guard_is_dynamic: Option<bool>,
    /// `ddns-dual-stack-mixed-mode`.
    pub dual_stack_mixed_mode: Option<bool>,
    /// `do-reverse-updates`.
    pub do_reverse_updates: Option<bool>,
    /// `fqdn-reply`.
    pub fqdn_reply: Option<bool>,
    /// `ddns-local-address6`.
    pub local_address6: Option<std::net::Ipv6Addr>,
    /// `allow | deny | ignore client-updates`.
    pub client_updates: Option<ClientUpdates>,
}

impl Default for DdnsParams {
    fn default() -> Self {
        DdnsParams {
            updates: true,
            domainname: None,
            rev_domainname: None,
            hostname: None,
            ttl: None,
            do_forward_updates: None,
            update_optimization: None,
            update_conflict_detection: None,
            local_address4: None,
            guard_id_must_match: None,
            other_guard_is_dynamic: None,
            dual_stack_mixed_mode: None,
            do_reverse_updates: None,
            fqdn_reply: None,
            local_address6: None,
            client_updates: None,
        }
    }
}

/// A `zone NAME { primary ...; secondary ...; key ...; }` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The zone name, with the trailing dot dhcpd adds.
    pub name: String,
    /// `primary` addresses (IPv4 or host names).
    pub primary: Vec<HostAddr>,
    /// `secondary` addresses.
    pub secondary: Vec<HostAddr>,
    /// `primary6` addresses, as written.
    pub primary6: Vec<String>,
    /// `secondary6` addresses, as written.
    pub secondary6: Vec<String>,
    /// `key NAME`, the name of one of [`Config::keys`].
    pub key: Option<String>,
}

/// A `shared-network` (or a lone subnet, see [`Config::shared_networks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedNetwork {
    /// The declared name, or the subnet address for a lone subnet.
    pub name: String,
    /// Its subnets, in file order.
    pub subnets: Vec<Subnet>,
    /// Its pools (explicit `pool { }` and implicit ones), in file order.
    pub pools: Vec<Pool>,
}

/// A `subnet A netmask M { }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// The network address.
    pub network: Ipv4Addr,
    /// The prefix length of the netmask.
    pub prefix_len: u8,
    /// The netmask as written.
    pub netmask: Ipv4Addr,
    /// The subnet scope's values.
    pub effective: Effective,
}

impl Subnet {
    /// Whether `addr` belongs to this subnet.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & u32::from(self.netmask) == u32::from(self.network)
    }
}

/// An inclusive address range `range A B;` (`range A;` is `A..=A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrRange {
    /// First address.
    pub start: Ipv4Addr,
    /// Last address (included).
    pub end: Ipv4Addr,
}

impl AddrRange {
    /// Whether `addr` is in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        (self.start..=self.end).contains(&addr)
    }

    /// Number of addresses (0 if reversed, which validation rejects).
    pub fn len(&self) -> u64 {
        (u64::from(u32::from(self.end)) + 1).saturating_sub(u64::from(u32::from(self.start)))
    }

    /// Whether the range holds no address (only if reversed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A pool of dynamic addresses. Ranges written directly in a subnet form one implicit
/// pool per subnet, with the subnet's values and no failover peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// Index of its subnet in the enclosing [`SharedNetwork::subnets`]; for a pool
    /// declared directly in a shared-network, the subnet holding its first range.
    pub subnet_index: usize,
    /// Its address ranges, in file order.
    pub ranges: Vec<AddrRange>,
    /// `failover peer "name";`, the name of one of [`Config::failover_peers`].
    pub failover_peer: Option<String>,
    /// Whether any range was written `range dynamic-bootp A B;` (never together with
    /// a failover peer).
    pub dynamic_bootp: bool,
    /// The pool's values.
    pub effective: Effective,
    /// `allow ...;` in the pool: when there is any, only clients matching one of them
    /// may use the pool (dhcpd's permit list).
    pub permits: Vec<Permit>,
    /// `deny ...;` in the pool: clients matching one of them may not use it.
    pub prohibits: Vec<Permit>,
}

/// The date of the `after DATE` permit in `list` (a pool has at most one, dhcpd's
/// "duplicate after clause"): of its permit list, the pool's valid_from; of its
/// prohibit list, its valid_until.
pub fn permit_after(list: &[Permit]) -> Option<u32> {
    list.iter().find_map(|p| match p {
        Permit::After(t) => Some(*t),
        _ => None,
    })
}

/// A pool permit (`allow X;` / `deny X;` inside a `pool`), as dhcpd's get_permit reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// `known-clients`, `known clients`: a host declaration matches the client.
    KnownClients,
    /// `unknown-clients`, `unknown clients`.
    UnknownClients,
    /// `all clients`.
    AllClients,
    /// `dynamic bootp clients`: a BOOTP request (no DHCP message type).
    DynamicBootpClients,
    /// `authenticated clients`: a client authenticated by the DHCP authentication
    /// option. dhcpd 4.4.3's server never marks a packet authenticated (it does not
    /// implement RFC 3118), so this matches no client, as in dhcpd.
    AuthenticatedClients,
    /// `unauthenticated clients`: every client, by the same token.
    UnauthenticatedClients,
    /// `members of "CLASS"`: index into [`Config::classes`]; a subclass's client is a
    /// member of its class too.
    Members(usize),
    /// `after DATE` (Unix seconds, dhcpd's reading of the date): matches every client
    /// once the time is past the date. It also bounds the pool: an `allow` makes the
    /// pool valid from the date, a `deny` until it ([`permit_after`]).
    After(u32),
}

/// A `class "NAME" { ... }` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// The class name.
    pub name: String,
    /// `match if EXPR;`
    pub match_if: Option<BoolExpr>,
    /// `match EXPR;` or `spawn with EXPR;`: the value looked up among the subclasses.
    pub submatch: Option<DataExpr>,
    /// `spawn with`: a value no subclass has makes a new subclass (dhcpd spawns one,
    /// with the class's statements), so any non-empty value joins the class.
    pub spawning: bool,
    /// `lease limit N;`: at most N leases billed to the class at once (for a spawning
    /// class, to each spawned subclass).
    pub lease_limit: Option<u32>,
    /// `subclass "NAME" DATA [{ ... }]` declarations.
    pub subclasses: Vec<Subclass>,
    /// The class's statements, executed for its members after the pool's scope and
    /// before the host's.
    pub actions: Vec<Action>,
    /// The `subnet` or `shared-network` declaration the class was first declared in
    /// (its head's position), if any.
    pub declared_in: Option<crate::Span>,
    /// The statements of the scopes the class was declared in, outermost first: dhcpd's
    /// class group is a clone of that scope's group, so its members run them again,
    /// before the class's own, unless the scope is one of their own (the client's
    /// subnet or shared network, already evaluated: dhcpd's execute_statements_in_scope
    /// stops at the limiting scope).
    pub enclosing: Vec<(ScopeKey, Vec<Action>)>,
}

/// A scope of the lowered configuration: a shared network (index into
/// [`Config::shared_networks`]) or one of its subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKey {
    SharedNetwork(usize),
    Subnet(usize, usize),
}

/// `subclass "CLASS" DATA [{ ... }]`: members are the clients whose `match` value is DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subclass {
    /// The value `match` must give.
    pub data: Vec<u8>,
    /// The subclass's own statements, executed after its class's.
    pub actions: Vec<Action>,
    /// Its lease limit: its own `lease limit`, else its class's.
    pub lease_limit: Option<u32>,
}

/// A statement executed per packet: in a class, or inside an `if`, or setting an
/// option from an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `option NAME VALUE;`
    Option { code: u8, data: Vec<u8> },
    /// `option NAME = EXPR;` (a null value sets nothing).
    OptionExpr { code: u8, expr: DataExpr },
    /// `ddns-hostname = EXPR;`: the host part of the client's DNS name (a null value
    /// leaves it without one, as dhcpd does: no fallback to the client's names).
    DdnsHostNameExpr(DataExpr),
    /// `append NAME VALUE;` / `prepend NAME VALUE;` (also `= EXPR`): the value is put
    /// after (before) the option's value in force when the statement runs, or is the
    /// value when none is (dhcpd's set_option: a concat of the two).
    Append { code: u8, expr: DataExpr, prepend: bool },
    /// `append SPACE.NAME VALUE;` / `prepend ...` (also `= EXPR`): the same for an
    /// option of an option space (dhcpd's set_option works on any universe).
    SpaceAppend { space: String, code: u32, expr: DataExpr, prepend: bool },
    /// `filename "x";`
    Filename(String),
    /// `server-name "x";`
    ServerName(String),
    /// `next-server ADDRESS;`
    NextServer(Ipv4Addr),
    /// `default-lease-time N;`
    DefaultLeaseTime(u32),
    /// `max-lease-time N;`
    MaxLeaseTime(u32),
    /// `min-lease-time N;`
    MinLeaseTime(u32),
    /// `default-lease-time = EXPR;` (also `max-`, `min-`): dhcpd's ack_lease takes the
    /// value when it is four bytes (network order), else its built-in default (the value
    /// the parameter has when it is not written). `target` is the lease time's target.
    LeaseTimeExpr { target: Target, expr: DataExpr },
    /// `ping-timeout = EXPR;` and the other server parameters of [`ExprParam`]: dhcpd
    /// evaluates the expression where it reads the parameter, for each client.
    ParamExpr { param: ExprParam, expr: DataExpr },
    /// `allow|deny|ignore booting`, `use-host-decl-names`, `one-lease-per-client`.
    Flag(Flag, bool),
    /// `option SPACE.NAME VALUE;` (the space's options make up option 43 when the
    /// client's `vendor-option-space` names it).
    SpaceOption { space: String, code: u32, data: Vec<u8> },
    /// `option SPACE.NAME = EXPR;` (a null value removes the sub-option).
    SpaceOptionExpr { space: String, code: u32, expr: DataExpr },
    /// `vendor-option-space NAME;`
    VendorOptionSpace(String),
    /// `option NAME VALUE;` with host names, until [`Config::resolve_names`] turns it into
    /// [`Action::Option`] (an empty value, a name that did not resolve, sends no option).
    NamedOption { code: u8, value: NamedValue },
    /// `append NAME VALUE;` / `prepend ...` with host names in VALUE, until
    /// [`Config::resolve_names`] turns it into [`Action::Append`] (a name that did not
    /// resolve adds nothing, as in an option's value).
    NamedAppend { code: u8, value: NamedValue, prepend: bool },
    /// `option SPACE.NAME VALUE;` with host names in VALUE, until
    /// [`Config::resolve_names`] turns it into [`Action::SpaceOption`] (a value of no
    /// address at all, names that did not resolve, removes the sub-option, as dhcpd's
    /// failed evaluation leaves it out).
    NamedSpaceOption { space: String, code: u32, value: NamedValue },
    /// `next-server NAME;`, until [`Config::resolve_names`] turns it into
    /// [`Action::NextServer`] (or drops it when the name does not resolve: as if not
    /// written, as dhcpd does).
    NextServerName(String),
    /// `filename = EXPR;`, `server-name = EXPR;`, `next-server = EXPR;`.
    HeaderExpr { field: HeaderField, expr: std::sync::Arc<DataExpr> },
    /// `switch (EXPR) { case VALUE: ... break; default: ... }`: the statements from the
    /// matching case (else from `default`) on, through the following cases, up to a
    /// `break` (dhcp-eval(5)).
    Switch { value: SwitchValue, arms: Vec<SwitchArm> },
    /// `set NAME = EXPR;` (`None`: `unset NAME;`): a variable of the lease's binding
    /// scope, readable by later expressions and kept with the lease; the value keeps
    /// its type (data, number or boolean), as dhcpd's binding_value.
    Set { name: String, expr: Option<crate::expr::AnyExpr> },
    /// `on commit|release|expiry [or ...] { ... }`: statements the lease runs when the
    /// event happens (the last such statement run for an event replaces the earlier).
    On { events: Events, block: std::sync::Arc<OnBlock> },
    /// `execute ("PROGRAM", EXPR, ...);`: run PROGRAM (no shell) with the values as
    /// arguments, each time the statement runs.
    Execute { program: String, args: Vec<DataExpr> },
    /// `log (PRIORITY, EXPR);`: the value is logged each time the statement runs.
    Log { level: LogLevel, expr: DataExpr },
    /// `if C { ... } elsif ... else { ... }` (`elsif` nests in `otherwise`).
    If { cond: BoolExpr, then: Vec<Action>, otherwise: Vec<Action> },
    /// `eval EXPR;` (also a bare function call, and `return EXPR;` outside a function):
    /// evaluated for the effects of the functions it calls, the value discarded.
    Eval(crate::expr::AnyExpr),
}

/// What an [`Action`] sets, to tell which later statements override it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// An option code.
    Option(u8),
    /// `filename`
    Filename,
    /// `server-name`
    ServerName,
    /// `next-server`
    NextServer,
    /// `default-lease-time`
    DefaultLeaseTime,
    /// `max-lease-time`
    MaxLeaseTime,
    /// `min-lease-time`
    MinLeaseTime,
    /// A flag.
    Flag(Flag),
    /// `vendor-option-space`
    VendorOptionSpace,
    /// An option of an option space, by code (whatever the space: a later statement for
    /// the same code of another space shadows too, which only makes the per-packet one
    /// lose in that rare case).
    SpaceOption(u32),
    /// `ddns-hostname`
    DdnsHostName,
    /// A parameter of [`ExprParam`].
    Param(ExprParam),
}

/// A server parameter set from an expression (`NAME = EXPR;`) that dhcpd reads per
/// client, beyond the BOOTP header fields, the lease times and `ddns-hostname`. As in
/// dhcpd, the expression's value is the parameter's stored form: four bytes in network
/// order for a number (any other length leaves dhcpd's built-in default), the text for
/// a name (null: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExprParam {
    /// `ping-timeout`, seconds (default 1).
    PingTimeout,
    /// `ping-timeout-ms` (default 0: `ping-timeout` decides).
    PingTimeoutMs,
    /// `ping-cltt-secs` (default 60).
    PingClttSecs,
    /// `ddns-ttl` (default: half the lease's remaining time, capped).
    DdnsTtl,
    /// `ddns-domainname` (null: no forward name, so no update).
    DdnsDomainName,
    /// `ddns-rev-domainname` (null: no reverse name, so no PTR update).
    DdnsRevDomainName,
    /// `ping-check`: a boolean, as dhcpd's evaluate_boolean_option_cache reads one:
    /// true when the value's first byte is 1 (so `01`, `encode-int (1, 8)`), false
    /// otherwise, null and empty included.
    PingCheck,
    /// `use-host-decl-names`, `one-lease-per-client`, `update-static-leases`,
    /// `duplicates`: booleans read the same way.
    Flag(Flag),
}

impl ExprParam {
    /// What the statement sets, for the shadowing of [`Dynamic::shadowed`] (a flag's
    /// plain statements and expressions share one target).
    pub fn target(self) -> Target {
        match self {
            ExprParam::Flag(f) => Target::Flag(f),
            p => Target::Param(p),
        }
    }

    /// The parameter named `word` (lower case), if it is one of these.
    pub fn from_name(word: &str) -> Option<ExprParam> {
        Some(match word {
            "ping-timeout" => ExprParam::PingTimeout,
            "ping-timeout-ms" => ExprParam::PingTimeoutMs,
            "ping-cltt-secs" => ExprParam::PingClttSecs,
            "ddns-ttl" => ExprParam::DdnsTtl,
            "ddns-domainname" => ExprParam::DdnsDomainName,
            "ddns-rev-domainname" => ExprParam::DdnsRevDomainName,
            "ping-check" => ExprParam::PingCheck,
            "use-host-decl-names" => ExprParam::Flag(Flag::UseHostDeclNames),
            "one-lease-per-client" => ExprParam::Flag(Flag::OneLeasePerClient),
            "update-static-leases" => ExprParam::Flag(Flag::UpdateStaticLeases),
            "duplicates" => ExprParam::Flag(Flag::Duplicates),
            _ => return None,
        })
    }
}

/// A BOOTP header field set from an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderField {
    /// `file` (`filename`)
    Filename,
    /// `sname` (`server-name`)
    ServerName,
    /// `siaddr` (`next-server`): the value must be 4 bytes.
    NextServer,
}

/// The value of a `switch` or of a `case` (all of one type in a switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchValue {
    /// A data expression.
    Data(DataExpr),
    /// A numeric expression.
    Num(NumExpr),
    /// A boolean expression (a switch's own value only): dhcpd evaluates a switch value
    /// that is not data as a number, which a boolean is not ("Boolean opcode in
    /// evaluate_numeric_expression"), so no case matches and `default` runs. Never
    /// evaluated, as in dhcpd.
    Bool(BoolExpr),
}

/// One `case` (or `default`) of a `switch`, with the statements up to the next label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchArm {
    /// The case's value; `None` for `default`.
    pub label: Option<SwitchValue>,
    /// Its statements (before a `break`).
    pub actions: Vec<Action>,
    /// Whether a `break` ends them (else execution goes on into the next case).
    pub breaks: bool,
}

impl SwitchValue {
    /// Where a `switch` on this value starts, among the arms' labels (`None`: `default`),
    /// as dhcpd's find_matching_case: the first case whose value equals this one (of the
    /// same type; a null value matches none), else `default`, else nowhere.
    pub fn start<'l>(
        &self,
        labels: impl Iterator<Item = Option<&'l SwitchValue>> + Clone,
        pkt: &Packet<'_>,
    ) -> Option<usize> {
        let matches = |label: &SwitchValue| match (self, label) {
            (SwitchValue::Data(v), SwitchValue::Data(l)) => {
                v.eval(pkt).is_some_and(|v| l.eval(pkt).is_some_and(|l| l == v))
            }
            (SwitchValue::Num(v), SwitchValue::Num(l)) => v.eval(pkt).is_some_and(|v| l.eval(pkt) == Some(v)),
            _ => false,
        };
        labels.clone().position(|l| l.is_some_and(matches)).or_else(|| labels.clone().position(|l| l.is_none()))
    }
}

/// The events of an `on` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Events {
    /// `commit`: the lease is granted (DHCPACK).
    pub commit: bool,
    /// `release`: the client releases it (or `one-lease-per-client` does).
    pub release: bool,
    /// `expiry`: it ends.
    pub expiry: bool,
}

/// A program to run, with its arguments (each a value's bytes), from `execute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The program's path, as written.
    pub program: String,
    /// The arguments.
    pub args: Vec<Vec<u8>>,
}

/// What per-packet statements leave besides option values: programs to run and the
/// lease's event statements (`on`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// `execute` statements run, in order.
    pub commands: Vec<Command>,
    /// The `on commit` statements in force (run once the lease is granted).
    pub on_commit: Option<std::sync::Arc<OnBlock>>,
    /// The `on release` statements in force (kept with the lease).
    pub on_release: Option<std::sync::Arc<OnBlock>>,
    /// The `on expiry` statements in force (kept with the lease).
    pub on_expiry: Option<std::sync::Arc<OnBlock>>,
}

/// The statements of an `on` block, with their text: dhcpd writes a lease's pending
/// `on release` / `on expiry` statements to its lease file and runs them after a
/// restart, so the text goes to the file and finds the statements again when it is read
/// ([`collect_event_blocks`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnBlock {
    /// The block's statements in dhcpd.conf syntax, on one line, tokens separated by one
    /// blank ([`event_statements_key`] of any spelling of them).
    pub source: String,
    /// The statements, compiled.
    pub actions: Vec<Action>,
}

/// The key an `on` block's statements are known by: the text `text` (the statements
/// inside the braces, as a lease file holds them, however spaced and split into lines)
/// in the form of [`OnBlock::source`]; `None` if it is not a list of statements.
pub fn event_statements_key(text: &str) -> Option<String> {
    let loader = crate::MemoryLoader::default();
    let mut reader = crate::syntax::Reader::new(&loader);
    let stmts = reader.read_root("lease file", text);
    reader.errors.is_empty().then(|| crate::syntax::statements_text(&stmts))
}

/// Adds the `on` blocks of `actions` (nested in `if` and `switch` too) to `out`, by
/// [`OnBlock::source`]: the statements a lease read from the lease file gets again for
/// its pending `on release` / `on expiry` text. Of two blocks with the same text, the
/// first found stays (they are the same statements).
pub fn collect_event_blocks(actions: &[Action], out: &mut std::collections::HashMap<String, std::sync::Arc<OnBlock>>) {
    for a in actions {
        match a {
            Action::On { block, .. } => {
                out.entry(block.source.clone()).or_insert_with(|| std::sync::Arc::clone(block));
            }
            Action::If { then, otherwise, .. } => {
                collect_event_blocks(then, out);
                collect_event_blocks(otherwise, out);
            }
            Action::Switch { arms, .. } => arms.iter().for_each(|arm| collect_event_blocks(&arm.actions, out)),
            _ => {}
        }
    }
}

impl Effects {
    /// An `on` statement run (in a scope or a function): `block` becomes the lease's
    /// statements for each of `events`, the last run for an event replacing the earlier
    /// (dhcpd's on_star).
    pub fn on(&mut self, events: Events, block: &std::sync::Arc<OnBlock>) {
        for (on, slot) in [
            (events.commit, &mut self.on_commit),
            (events.release, &mut self.on_release),
            (events.expiry, &mut self.on_expiry),
        ] {
            if on {
                *slot = Some(std::sync::Arc::clone(block));
            }
        }
    }
}

/// The priority of a `log` statement (`fatal`, which makes dhcpd exit, is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `error`
    Error,
    /// `info` (also when no priority is written)
    Info,
    /// `debug`
    Debug,
}

/// Per-client flags a class or an `if` may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flag {
    /// `allow booting` (true) / `deny booting`, `ignore booting` (false): dhcpd drops a
    /// DISCOVER, REQUEST or BOOTP request of a client for which it ends up false.
    AllowBooting,
    /// `use-host-decl-names`
    UseHostDeclNames,
    /// `one-lease-per-client`
    OneLeasePerClient,
    /// `ignore-client-uids`
    IgnoreClientUids,
    /// `update-static-leases`: DNS updates for a host's fixed address too (dhcpd reads
    /// it in the client's merged scope, where a class or an `if` may set it).
    UpdateStaticLeases,
    /// `allow|deny|ignore duplicates` (dhcpd's ack_lease reads it in the merged scope,
    /// classes included).
    Duplicates,
}

impl Action {
    /// Whether the action sets or reads a variable (its own or a nested one's).
    pub fn uses_variables(&self) -> bool {
        match self {
            Action::Set { .. } => true,
            Action::Eval(e) => e.reads_variables(),
            Action::OptionExpr { expr, .. }
            | Action::DdnsHostNameExpr(expr)
            | Action::Log { expr, .. }
            | Action::Append { expr, .. }
            | Action::SpaceAppend { expr, .. }
            | Action::LeaseTimeExpr { expr, .. }
            | Action::ParamExpr { expr, .. }
            | Action::SpaceOptionExpr { expr, .. } => expr.reads_variables(),
            Action::HeaderExpr { expr, .. } => expr.reads_variables(),
            Action::If { cond, then, otherwise } => {
                cond.reads_variables() || then.iter().chain(otherwise).any(Action::uses_variables)
            }
            Action::On { block, .. } => block.actions.iter().any(Action::uses_variables),
            Action::Switch { value, arms } => {
                let reads = |v: &SwitchValue| match v {
                    SwitchValue::Data(d) => d.reads_variables(),
                    SwitchValue::Num(n) => n.reads_variables(),
                    SwitchValue::Bool(_) => false,
                };
                reads(value)
                    || arms
                        .iter()
                        .any(|a| a.label.as_ref().is_some_and(reads) || a.actions.iter().any(Action::uses_variables))
            }
            Action::Execute { args, .. } => args.iter().any(DataExpr::reads_variables),
            _ => false,
        }
    }
}

/// A per-packet statement in a scope chain. dhcpd executes a scope's statements in
/// order, outer scopes first, each replacing earlier values; the unconditional ones are
/// already folded into [`Effective`], so `shadowed` lists what statements written
/// *after* this one set unconditionally: those win over it whatever it evaluates to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dynamic {
    /// The statement.
    pub action: Action,
    /// Targets a later unconditional statement of the chain sets (sorted).
    pub shadowed: Vec<Target>,
}

/// A `host NAME { }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The declared name.
    pub name: String,
    /// `hardware ethernet MAC;`
    pub hardware_ethernet: Option<[u8; 6]>,
    /// `option dhcp-client-identifier ...;` (option 61 payload, type byte included).
    /// It identifies the host and is not put into [`Effective::options`].
    pub client_identifier: Option<Vec<u8>>,
    /// `fixed-address A[, B];`: the addresses (for a list with host names, those the
    /// names resolved to, see [`Config::resolve_names`]).
    pub fixed_addresses: Vec<Ipv4Addr>,
    /// The `fixed-address` list as written when it names a host: looked up as a whole
    /// by [`Config::resolve_names`] (a name that does not resolve adds no address).
    pub fixed_address_names: Option<Vec<HostAddr>>,
    /// Whether the host has a `fixed-address` statement, whatever its names resolved
    /// to: dhcpd never hangs such a host on a dynamic lease (its statements are not run
    /// for one), even when its address expression gives nothing.
    pub fixed_address_declared: bool,
    /// `host-identifier option NAME VALUE;`: the option (as the client sends it) and the
    /// value that identify the host, after the client identifier and the hardware
    /// address (dhcpd's find_hosts_by_option).
    pub identifier: Option<(OptionRef, Vec<u8>)>,
    /// Values for this host: its enclosing scopes plus its own statements.
    pub effective: Effective,
    /// What dhcpd applies for this host's client *after* the subnet's (and pool's)
    /// values: the host's own statements and those of its enclosing `group`s (not the
    /// global, shared-network or subnet values it inherits, which the subnet's scope
    /// already gave), on [`Effective::default`]. Its options, `next-server`,
    /// `filename` and `server-name` override the subnet's per code.
    pub own: Effective,
    /// `use-host-decl-names` as the host's own statements and enclosing groups set it
    /// (`None`: not set there, the subnet's or pool's value stands).
    pub own_use_host_decl_names: Option<bool>,
    /// `one-lease-per-client` as the host's own statements and groups set it (`None`:
    /// not set there).
    pub own_one_lease_per_client: Option<bool>,
    /// `ignore-client-uids` as the host's own statements and groups set it (`None`: not
    /// set there).
    pub own_ignore_client_uids: Option<bool>,
    /// `update-static-leases` as the host's own statements and groups set it (`None`:
    /// not set there).
    pub own_update_static_leases: Option<bool>,
    /// `allow|deny|ignore booting` as the host's own statements and groups set it
    /// (`None`: not set there). `deny booting` in a host is the usual way to shut a
    /// machine out.
    pub own_allow_booting: Option<bool>,
    /// Whether the host's own statements or enclosing groups write any DNS-update
    /// statement (`ddns-*`, `client-updates`...; not `update-static-leases`, which the
    /// host's scope may set like any flag).
    pub own_sets_ddns: bool,
}

/// This server's role in a failover relationship (`primary;` / `secondary;`): defined once,
/// in `dhcp-common`, for the protocol, the server and the XDP program.
pub use dhcp_common::Role;

/// A failover address: an IPv4 literal, or a DNS name (dhcpd resolves it at start;
/// this crate does no DNS, so the server must).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAddress {
    /// A literal address.
    Ip(Ipv4Addr),
    /// A host name to resolve.
    Name(String),
}

impl PeerAddress {
    /// The address, when written as a literal.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        match self {
            PeerAddress::Ip(a) => Some(*a),
            PeerAddress::Name(_) => None,
        }
    }
}

/// A `failover peer "name" { }` declaration, defaults applied (see the constants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverPeer {
    /// The relationship name (sent as relationship-name; must match the partner's).
    pub name: String,
    /// This server's role.
    pub role: Role,
    /// `address`: this server's address (dhcpd listens and binds on it).
    pub address: PeerAddress,
    /// `port` (default 647).
    pub port: u16,
    /// `peer address`: the partner's address.
    pub peer_address: PeerAddress,
    /// `peer port` (default 647).
    pub peer_port: u16,
    /// `max-response-delay`, seconds (default 20).
    pub max_response_delay: u32,
    /// `max-unacked-updates` (default 100).
    pub max_unacked_updates: u32,
    /// `mclt`, seconds (primary only, mandatory there).
    pub mclt: Option<u32>,
    /// `split N` as written (0..=256), primary only.
    pub split: Option<u16>,
    /// The hash bucket allocation: `hba` as written, or computed from `split` as dhcpd
    /// does (bits 0..N-1 set; bucket h is bit `h & 7` of byte `h >> 3`). A set bit
    /// means the primary serves the bucket. `None` when neither is configured.
    pub hba: Option<[u8; 32]>,
    /// `load balance max seconds` (default 0: dhcpd then balances nothing).
    pub load_balance_max_seconds: u32,
    /// `auto-partner-down`, seconds (default 0: off).
    pub auto_partner_down: u32,
    /// `max-lease-misbalance`, percent (default 15).
    pub max_lease_misbalance: u32,
    /// `max-lease-ownership`, percent (default 10).
    pub max_lease_ownership: u32,
    /// `min-balance`, seconds (default 60).
    pub min_balance: u32,
    /// `max-balance`, seconds (default 3600).
    pub max_balance: u32,
    /// Our extension `hot-standby-reserve [PERCENT];` (Windows-style hot standby: the
    /// primary serves every client and the standby keeps PERCENT of the free
    /// addresses; 5 when written without a value). `None`: load balancing.
    pub hot_standby_reserve_percent: Option<u8>,
    /// Our extension `auth-key NAME;`: sign and check every failover message with that
    /// `key` (HMAC-SHA256). `None`: plain dhcpd behaviour.
    pub auth_key: Option<String>,
    /// Our extension `tls-certificate "…"; tls-key "…"; tls-ca "…";`: run the link over
    /// mutually authenticated TLS. `None`: plain TCP, as dhcpd.
    pub tls: Option<PeerTls>,
}

/// The TLS files of a failover peer (paths as written in dhcpd.conf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTls {
    /// This server's certificate chain (PEM).
    pub certificate: String,
    /// Its private key (PEM).
    pub key: String,
    /// The CA (PEM) the partner's certificate must chain to.
    pub ca: String,
}

impl FailoverPeer {
    /// The HBA to advertise: the configured one; in hot standby without one, all
    /// buckets to the primary (split 256); otherwise none (all zero).
    pub fn hba_or_default(&self) -> [u8; 32] {
        match (self.hba, self.hot_standby_reserve_percent) {
            (Some(h), _) => h,
            (None, Some(_)) => [0xff; 32],
            (None, None) => [0; 32],
        }
    }
}

/// Converts `split N` (0..=256) to the 32-byte HBA dhcpd sends: bits 0..N-1 set,
/// LSB first within each byte.
pub fn split_to_hba(split: u16) -> [u8; 32] {
    let mut hba = [0u8; 32];
    for h in 0..usize::from(split.min(256)) {
        if let Some(b) = hba.get_mut(h >> 3) {
            *b |= 1 << (h & 7);
        }
    }
    hba
}

/// Signature algorithm of a key. dhcpd's OMAPI only implements HMAC-MD5; the failover
/// peer link (`auth-key`, an xdhcpd extension) uses HMAC-SHA256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// `hmac-md5` or `HMAC-MD5.SIG-ALG.REG.INT`.
    HmacMd5,
    /// `hmac-sha256`.
    HmacSha256,
    /// `hmac-sha1` (DNS updates only).
    HmacSha1,
    /// `hmac-sha224` (DNS updates only).
    HmacSha224,
    /// `hmac-sha384` (DNS updates only).
    HmacSha384,
    /// `hmac-sha512` (DNS updates only).
    HmacSha512,
}

impl KeyAlgorithm {
    /// The name as written in dhcpd.conf.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::HmacMd5 => "hmac-md5",
            KeyAlgorithm::HmacSha256 => "hmac-sha256",
            KeyAlgorithm::HmacSha1 => "hmac-sha1",
            KeyAlgorithm::HmacSha224 => "hmac-sha224",
            KeyAlgorithm::HmacSha384 => "hmac-sha384",
            KeyAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }
}

/// A `key NAME { algorithm ...; secret ...; }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key name (OMAPI sends it as the authenticator name).
    pub name: String,
    /// The algorithm.
    pub algorithm: KeyAlgorithm,
    /// The secret, base64-decoded.
    pub secret: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_conversion() {
        let h = split_to_hba(128);
        assert!(h[..16].iter().all(|&b| b == 0xff));
        assert!(h[16..].iter().all(|&b| b == 0));
        assert_eq!(split_to_hba(256), [0xff; 32]);
        assert_eq!(split_to_hba(0), [0; 32]);
        let h = split_to_hba(3);
        assert_eq!(h[0], 0b0000_0111);
        assert_eq!(split_to_hba(9)[1], 1);
    }

    #[test]
    fn options_replace_and_stay_sorted() {
        let mut e = Effective::default();
        e.set_option(6, vec![1]);
        e.set_option(3, vec![2]);
        e.set_option(6, vec![3]);
        assert_eq!(e.options, vec![(3, vec![2]), (6, vec![3])]);
        assert_eq!(e.option(6), Some(&[3u8][..]));
        assert_eq!(e.option(7), None);
    }

    #[test]
    fn range_len() {
        let r = AddrRange { start: Ipv4Addr::new(10, 0, 0, 1), end: Ipv4Addr::new(10, 0, 0, 10) };
        assert_eq!(r.len(), 10);
        assert!(r.contains(Ipv4Addr::new(10, 0, 0, 10)));
        let full = AddrRange { start: Ipv4Addr::UNSPECIFIED, end: Ipv4Addr::BROADCAST };
        assert_eq!(full.len(), 1 << 32);
    }
}
