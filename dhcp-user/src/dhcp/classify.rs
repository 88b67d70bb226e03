//! Classes, pool permits and per-packet statements (dhcp-eval(5)), as dhcpd applies them.
//!
//! The expressions were compiled when the configuration was read (`dhcp_config::expr`);
//! here they are only evaluated, on the raw request bytes. Nothing allocates unless a
//! statement sets a value: classification fills a fixed array.

use super::config::{Params, PoolCfg};
use dhcp_config::model::ExprParam;
use dhcp_config::{Action, Class, Dynamic, Flag, HeaderField, Packet, Permit, Target};
use std::collections::HashMap;

/// Each class's subclasses by value (dhcpd keeps them in a hash table too): a
/// subclass table of thousands of hardware addresses costs one lookup per packet.
#[derive(Debug, Default)]
pub struct SubclassIndex {
    by_value: Vec<HashMap<Box<[u8]>, usize>>,
}

impl SubclassIndex {
    /// Indexes `classes`' subclasses; of two with the same value, the first declared
    /// answers.
    pub fn new(classes: &[Class]) -> Self {
        let by_value = classes
            .iter()
            .map(|c| {
                let mut m: HashMap<Box<[u8]>, usize> = HashMap::with_capacity(c.subclasses.len());
                for (j, s) in c.subclasses.iter().enumerate() {
                    m.entry(s.data.clone().into_boxed_slice()).or_insert(j);
                }
                m
            })
            .collect();
        SubclassIndex { by_value }
    }

    fn find(&self, class: usize, value: &[u8]) -> Option<usize> {
        self.by_value.get(class)?.get(value).copied()
    }
}

/// dhcpd's PACKET_MAX_CLASSES: a packet joins at most this many classes (more are
/// logged and ignored by dhcpd).
pub const MAX_CLASSES: usize = 5;

/// The classes a packet belongs to, in the order it joined them: (class index,
/// subclass index within it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classes {
    joined: [(u16, Option<u16>); MAX_CLASSES],
    /// For a class joined by spawning, with a lease limit: the spawned subclass's value
    /// (its billing key). Nothing is allocated otherwise.
    spawned: [Option<Box<[u8]>>; MAX_CLASSES],
    len: usize,
}

impl Classes {
    fn push(&mut self, class: usize, sub: Option<usize>) {
        let (Ok(class), Ok(sub)) = (u16::try_from(class), sub.map(u16::try_from).transpose()) else {
            return;
        };
        if let Some(slot) = self.joined.get_mut(self.len) {
            *slot = (class, sub);
            self.len += 1;
        }
    }

    /// (class, subclass) pairs, in joining order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (usize, Option<usize>)> + '_ {
        self.joined.iter().take(self.len).map(|(c, s)| (usize::from(*c), s.map(usize::from)))
    }

    /// Whether the packet is in class `class` (directly or through one of its subclasses).
    pub fn contains(&self, class: usize) -> bool {
        self.iter().any(|(c, _)| c == class)
    }

    /// The value of the subclass spawned for the `i`-th class joined, if any.
    pub fn spawned(&self, i: usize) -> Option<&[u8]> {
        self.spawned.get(i)?.as_deref()
    }

    /// Whether the packet joined no class.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// dhcpd's check_collection: every class in file order; `match if` decides membership,
/// or, with a `match` expression, whether to look its value up among the subclasses.
/// dhcpd classifies before it looks up host declarations, so `known` is false here
/// (`pkt` must say so).
pub fn classify(classes: &[Class], index: &SubclassIndex, pkt: &Packet<'_>) -> Classes {
    let mut out = Classes::default();
    for (i, class) in classes.iter().enumerate() {
        if let Some(cond) = &class.match_if {
            if !cond.holds(pkt) {
                continue;
            }
            if class.submatch.is_none() {
                out.push(i, None);
                continue;
            }
        }
        let Some(sub) = &class.submatch else { continue };
        // An empty or null value matches no subclass (dhcpd: `status && data.len`).
        let Some(value) = sub.eval(pkt).filter(|v| !v.is_empty()) else { continue };
        if let Some(j) = index.find(i, &value) {
            out.push(i, Some(j));
        } else if class.spawning {
            // dhcpd's spawned subclass has the class's statements only; with a lease
            // limit, its value is what its leases are billed to.
            let at = out.len;
            out.push(i, None);
            if class.lease_limit.is_some()
                && let Some(slot) = out.spawned.get_mut(at)
            {
                *slot = Some(value.into_owned().into_boxed_slice());
            }
        }
    }
    out
}

/// dhcpd's permitted(): whether one of `list` matches the client at `now`.
fn matches_any(list: &[Permit], known: bool, bootp: bool, classes: &Classes, now: u32) -> bool {
    list.iter().any(|p| match p {
        Permit::KnownClients => known,
        Permit::UnknownClients => !known,
        Permit::AllClients => true,
        Permit::DynamicBootpClients => bootp,
        // dhcpd's permitted() reads packet->authenticated, which its server never sets.
        Permit::AuthenticatedClients => false,
        Permit::UnauthenticatedClients => true,
        Permit::Members(c) => classes.contains(*c),
        // Strictly after the date, as dhcpd compares.
        Permit::After(t) => now > *t,
    })
}

/// Whether a client may draw from `pool` at `now` (Unix seconds): no deny matches it,
/// and when the pool has allows, one of them does.
pub fn permitted(pool: &PoolCfg, known: bool, bootp: bool, classes: &Classes, now: u32) -> bool {
    !matches_any(&pool.prohibits, known, bootp, classes, now)
        && (pool.permits.is_empty() || matches_any(&pool.permits, known, bootp, classes, now))
}

/// The lease time a DHCP client (not BOOTP) gets from `pool` at `now`, as dhcpd's
/// ack_lease bounds it by the pool's `after` permits: `None` (dhcpd NAKs) before the
/// date of an `allow after` or from the date of a `deny after` on; until the latter, the
/// lease ends by that date, but lasts `min_secs` at least (min-lease-time, the
/// transition window dhcpd's comments describe).
pub fn pool_window(pool: &PoolCfg, now: u32, secs: u32, min_secs: u32) -> Option<u32> {
    if dhcp_config::model::permit_after(&pool.permits).is_some_and(|from| now < from) {
        return None;
    }
    match dhcp_config::model::permit_after(&pool.prohibits) {
        Some(until) if now >= until => None,
        Some(until) => Some(secs.min(until - now).max(min_secs)),
        None => Some(secs),
    }
}

fn set_option(p: &mut Params, code: u8, data: Option<Vec<u8>>) {
    // dhcpd sends no option whose value is empty (checked: `substring ("hello", 10, 2)`
    // gives no option at all in its OFFER).
    let data = data.filter(|d| !d.is_empty());
    let at = p.options.binary_search_by_key(&code, |(c, _)| *c);
    match (at, data) {
        (Ok(i), Some(d)) => {
            if let Some(slot) = p.options.get_mut(i) {
                slot.1 = d;
            }
        }
        (Err(i), Some(d)) => p.options.insert(i, (code, d)),
        // An option set from a null expression is not sent (dhcpd evaluates it when it
        // builds the reply and leaves it out), and it replaced the earlier value.
        (Ok(i), None) => {
            p.options.remove(i);
        }
        (Err(_), None) => {}
    }
}

/// Sets (`None`: removes) an option of an option space; a new value keeps its code's
/// place (dhcpd replaces it in its slot).
fn set_space_option(p: &mut Params, space: &str, code: u32, data: Option<Vec<u8>>) {
    let opts = std::sync::Arc::make_mut(&mut p.space_options);
    let at = opts.iter().position(|o| o.space == space && o.code == code);
    match (at, data) {
        (Some(i), Some(d)) => {
            if let Some(o) = opts.get_mut(i) {
                o.data = d;
            }
        }
        (None, Some(d)) => opts.push(dhcp_config::SpaceOptionValue { space: space.to_string(), code, data: d }),
        (Some(i), None) => {
            opts.remove(i);
        }
        (None, None) => {}
    }
}

/// `NAME = EXPR;` for a parameter of [`ExprParam`], as dhcpd reads the value where it
/// uses the parameter: a number is four bytes in network order, any other value (null
/// too) leaves dhcpd's built-in default, not the value an earlier statement set (the
/// statement replaced it); a name is the value's text, null being no name.
fn set_param(p: &mut Params, param: ExprParam, expr: &dhcp_config::DataExpr, pkt: &Packet<'_>) {
    let value = expr.eval(pkt);
    let number = || value.as_deref().and_then(|v| <[u8; 4]>::try_from(v).ok()).map(u32::from_be_bytes);
    // dhcpd's evaluate_boolean_option_cache: true only when the first byte is 1.
    let boolean = || value.as_deref().and_then(|v| v.first()) == Some(&1);
    match param {
        ExprParam::PingCheck => p.ping_check = boolean(),
        ExprParam::Flag(f) => match f {
            Flag::UseHostDeclNames => p.use_host_decl_names = Some(boolean()),
            Flag::OneLeasePerClient => p.one_lease_per_client = Some(boolean()),
            Flag::UpdateStaticLeases => p.update_static_leases = Some(boolean()),
            Flag::Duplicates => p.duplicates = boolean(),
            // Not made by the parser (see ExprParam::from_name).
            Flag::AllowBooting | Flag::IgnoreClientUids => {}
        },
        ExprParam::PingTimeout => p.ping_timeout_secs = number().unwrap_or(1),
        ExprParam::PingTimeoutMs => p.ping_timeout_ms = number().unwrap_or(0),
        ExprParam::PingClttSecs => p.ping_cltt_secs = number().unwrap_or(60),
        ExprParam::DdnsTtl => std::sync::Arc::make_mut(&mut p.ddns).ttl = number(),
        // Null is kept as an empty name, which the DNS plan reads as "none" (no
        // fallback to the domain-name option, as dhcpd has none once the statement is
        // in force).
        ExprParam::DdnsDomainName => {
            std::sync::Arc::make_mut(&mut p.ddns).domainname = Some(value.map(|v| v.into_owned()).unwrap_or_default())
        }
        ExprParam::DdnsRevDomainName => {
            std::sync::Arc::make_mut(&mut p.ddns).rev_domainname =
                Some(value.map(|v| v.into_owned()).unwrap_or_default())
        }
    }
}

/// Executes `actions` on `p` for the packet, skipping what `shadowed` lists (set by a
/// later unconditional statement of the scope chain, which wins).
pub fn run(actions: &[Action], shadowed: &[Target], p: &mut Params, pkt: &Packet<'_>) {
    let live = |t: Target| shadowed.binary_search(&t).is_err();
    for a in actions {
        match a {
            Action::Option { code, data } if live(Target::Option(*code)) => {
                p.option43_explicit |= *code == 43;
                set_option(p, *code, Some(data.clone()))
            }
            Action::SpaceOption { space, code, data } if live(Target::SpaceOption(*code)) => {
                set_space_option(p, space, *code, Some(data.clone()));
            }
            Action::SpaceOptionExpr { space, code, expr } if live(Target::SpaceOption(*code)) => {
                set_space_option(p, space, *code, expr.set_value(pkt));
            }
            Action::VendorOptionSpace(name) if live(Target::VendorOptionSpace) => {
                p.vendor_option_space = Some(name.clone());
            }
            Action::OptionExpr { code, expr } if live(Target::Option(*code)) => {
                // dhcpd's store_options keeps what the evaluation left even when it
                // reports failure: a call as the whole expression gives its value there.
                set_option(p, *code, expr.set_value(pkt));
            }
            Action::DdnsHostNameExpr(expr) if live(Target::DdnsHostName) => {
                // Null: set but empty, so the plan takes no host name from the client
                // either (dhcpd's ddns_updates: the option exists, its value does not).
                std::sync::Arc::make_mut(&mut p.ddns).hostname =
                    Some(expr.eval(pkt).map(|v| v.into_owned()).unwrap_or_default());
            }
            Action::SpaceAppend { space, code, expr, prepend } if live(Target::SpaceOption(*code)) => {
                // As `append` of a DHCP option, in the space's values.
                let new = expr.eval(pkt);
                let old = p.space_options.iter().find(|o| o.space == *space && o.code == *code).map(|o| &o.data);
                let value = match (old, new) {
                    (None, new) => new.map(|v| v.into_owned()),
                    (Some(old), Some(new)) if *prepend => Some([new.as_ref(), old].concat()),
                    (Some(old), Some(new)) => Some([old.as_slice(), new.as_ref()].concat()),
                    (Some(_), None) => None,
                };
                set_space_option(p, space, *code, value);
            }
            Action::Append { code, expr, prepend } if live(Target::Option(*code)) => {
                // dhcpd's set_option: with no value in force the statement's value is
                // the option's; otherwise the concat of the two, null if either is.
                p.option43_explicit |= *code == 43;
                let new = expr.eval(pkt);
                let value = match (p.option(*code), new) {
                    (None, new) => new.map(|v| v.into_owned()),
                    (Some(old), Some(new)) if *prepend => Some([new.as_ref(), old].concat()),
                    (Some(old), Some(new)) => Some([old, new.as_ref()].concat()),
                    (Some(_), None) => None,
                };
                set_option(p, *code, value);
            }
            Action::Filename(f) if live(Target::Filename) => {
                p.filename = Some(f.clone());
                p.header_exprs[0] = None;
            }
            Action::ServerName(s) if live(Target::ServerName) => {
                p.server_name = Some(s.clone());
                p.header_exprs[1] = None;
            }
            Action::NextServer(a) if live(Target::NextServer) => {
                p.next_server = Some(*a);
                p.header_exprs[2] = None;
            }
            Action::LeaseTimeExpr { target, expr } if live(*target) => {
                // dhcpd's ack_lease: four bytes are the time (a call alone is null here:
                // it checks the evaluation's status); anything else is its default.
                let v = expr.eval(pkt).and_then(|v| v.as_ref().try_into().ok().map(u32::from_be_bytes));
                match target {
                    Target::DefaultLeaseTime => {
                        p.default_lease_secs = v.unwrap_or(dhcp_config::model::DEFAULT_LEASE_TIME)
                    }
                    Target::MaxLeaseTime => p.max_lease_secs = v.unwrap_or(dhcp_config::model::DEFAULT_MAX_LEASE_TIME),
                    _ => p.min_lease_secs = v.unwrap_or(0),
                }
            }
            Action::ParamExpr { param, expr } if live(param.target()) => set_param(p, *param, expr, pkt),
            Action::DefaultLeaseTime(v) if live(Target::DefaultLeaseTime) => p.default_lease_secs = *v,
            Action::MaxLeaseTime(v) if live(Target::MaxLeaseTime) => p.max_lease_secs = *v,
            Action::MinLeaseTime(v) if live(Target::MinLeaseTime) => p.min_lease_secs = *v,
            Action::Flag(f, v) if live(Target::Flag(*f)) => match f {
                Flag::AllowBooting => p.allow_booting = Some(*v),
                Flag::UseHostDeclNames => p.use_host_decl_names = Some(*v),
                Flag::OneLeasePerClient => p.one_lease_per_client = Some(*v),
                Flag::IgnoreClientUids => p.ignore_client_uids = Some(*v),
                Flag::UpdateStaticLeases => p.update_static_leases = Some(*v),
                Flag::Duplicates => p.duplicates = *v,
            },
            Action::Log { level, expr } => log(*level, expr.eval(pkt).as_deref()),
            Action::On { events, block } => {
                if let Some(mut fx) = pkt.effects().and_then(|f| f.try_borrow_mut().ok()) {
                    fx.on(*events, block);
                }
            }
            Action::Execute { program, args } => {
                // A null argument is an empty one; the values are computed first.
                let args: Vec<Vec<u8>> =
                    args.iter().map(|a| a.eval(pkt).map(|v| v.into_owned()).unwrap_or_default()).collect();
                if let Some(mut fx) = pkt.effects().and_then(|f| f.try_borrow_mut().ok()) {
                    fx.commands.push(dhcp_config::Command { program: program.clone(), args });
                }
            }
            Action::Set { name, expr } => {
                // A null value leaves the variable without a value (dhcpd then writes
                // nothing for it); the value is computed before the scope is changed.
                let value = expr.as_ref().and_then(|e| e.value(pkt));
                if let Some(mut vars) = pkt.vars().and_then(|v| v.try_borrow_mut().ok()) {
                    vars.set_value(name, value);
                }
            }
            Action::Eval(e) => {
                // For the effects of the functions it calls (their `set`s); the value
                // is dropped, as dhcpd's eval statement drops it.
                e.value(pkt);
            }
            Action::HeaderExpr { field, expr } if live(header_target(*field)) => {
                // Evaluated last (`finish_headers`), as dhcpd evaluates it.
                if let Some(slot) = p.header_exprs.get_mut(header_slot(*field)) {
                    *slot = Some(std::sync::Arc::clone(expr));
                }
            }
            Action::If { cond, then, otherwise } => {
                let branch = if cond.holds(pkt) { then } else { otherwise };
                run(branch, shadowed, p, pkt);
            }
            Action::Switch { value, arms } => {
                // The first case whose value equals the switch's (a null value matches
                // none), else `default`; from there on, up to a `break`.
                let start = value.start(arms.iter().map(|a| a.label.as_ref()), pkt);
                for arm in arms.iter().skip(start.unwrap_or(arms.len())) {
                    run(&arm.actions, shadowed, p, pkt);
                    if arm.breaks {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
}

/// The `Params::header_exprs` slot of a field.
fn header_slot(f: HeaderField) -> usize {
    match f {
        HeaderField::Filename => 0,
        HeaderField::ServerName => 1,
        HeaderField::NextServer => 2,
    }
}

/// Computes the header fields set from expressions, once every statement has run: a
/// null value leaves the field empty (dhcpd writes nothing for an expression that
/// fails); siaddr takes exactly four bytes.
pub fn finish_headers(p: &mut Params, pkt: &Packet<'_>) {
    let exprs = std::mem::take(&mut p.header_exprs);
    for (i, e) in exprs.iter().enumerate() {
        let Some(e) = e else { continue };
        let v = e.eval(pkt);
        match i {
            0 => p.filename = v.map(|v| String::from_utf8_lossy(&v).into_owned()),
            1 => p.server_name = v.map(|v| String::from_utf8_lossy(&v).into_owned()),
            _ => p.next_server = v.and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok()).map(std::net::Ipv4Addr::from),
        }
    }
}

fn header_target(f: HeaderField) -> Target {
    match f {
        HeaderField::Filename => Target::Filename,
        HeaderField::ServerName => Target::ServerName,
        HeaderField::NextServer => Target::NextServer,
    }
}

/// A `log` statement's line (target `xdhcpd::conf_log`; lossy UTF-8, at most 1,024
/// bytes, as dhcpd's log buffer cuts a line too). A null value logs nothing.
fn log(level: dhcp_config::LogLevel, value: Option<&[u8]>) {
    let Some(v) = value else { return };
    let text = String::from_utf8_lossy(v.get(..1024).unwrap_or(v));
    match level {
        dhcp_config::LogLevel::Error => tracing::error!(target: "xdhcpd::conf_log", "{text}"),
        dhcp_config::LogLevel::Info => tracing::info!(target: "xdhcpd::conf_log", "{text}"),
        dhcp_config::LogLevel::Debug => tracing::debug!(target: "xdhcpd::conf_log", "{text}"),
    }
}

/// What option 43 is built from, to tell whether per-packet statements changed it.
pub struct SpaceMark {
    vendor: Option<String>,
    /// Held so that the first change copies the list (a new pointer), whoever else
    /// shares it.
    options: std::sync::Arc<Vec<dhcp_config::SpaceOptionValue>>,
}

impl SpaceMark {
    pub fn of(p: &Params) -> Self {
        SpaceMark { vendor: p.vendor_option_space.clone(), options: std::sync::Arc::clone(&p.space_options) }
    }

    /// Builds option 43 again, as dhcpd builds it when it answers, when the statements
    /// run since `self` changed the vendor space or its options (a shared list is
    /// copied when first changed, so a new pointer means a change), unless option 43 is
    /// written explicitly.
    ///
    /// The same for the options defined as `encapsulate SPACE` (`encapsulations`: code and
    /// space): when the statements changed the space options, such an option is built
    /// again from them, unless its value is not the one the earlier space options made
    /// (then it was written as such).
    pub fn rebuild_43(&self, p: &mut Params, spaces: &[dhcp_config::OptionSpace], encapsulations: &[(u8, String)]) {
        let options_changed = !std::sync::Arc::ptr_eq(&self.options, &p.space_options);
        if options_changed {
            for (code, space) in encapsulations {
                let before = dhcp_config::encapsulate(space, &self.options, spaces);
                if p.option(*code) == before.as_deref() {
                    set_option(p, *code, dhcp_config::encapsulate(space, &p.space_options, spaces));
                }
            }
        }
        let changed = self.vendor != p.vendor_option_space || options_changed;
        let vendor_space = self.vendor.is_some() || p.vendor_option_space.is_some();
        if !changed || !vendor_space || p.option43_explicit {
            return;
        }
        let built =
            p.vendor_option_space.as_deref().and_then(|n| dhcp_config::encapsulate(n, &p.space_options, spaces));
        set_option(p, 43, built);
    }
}

/// Runs an event's statements (`on commit|release|expiry`): only variables, logs,
/// programs and conditions act there.
pub fn run_event(actions: &[Action], pkt: &Packet<'_>) {
    let mut scratch = Params::default();
    run(actions, &[], &mut scratch, pkt);
}

/// Programs `execute` asked for, waiting for the runtime to run them (off the request
/// path: an answer never waits for a program). Bounded: beyond [`HookQueue::MAX`]
/// waiting, further ones are dropped and counted.
#[derive(Debug, Default)]
pub struct HookQueue {
    waiting: std::sync::Mutex<std::collections::VecDeque<dhcp_config::Command>>,
    ready: tokio::sync::Notify,
    dropped: std::sync::atomic::AtomicU64,
}

impl HookQueue {
    /// Most programs waiting at once.
    pub const MAX: usize = 1024;

    /// Queues `commands` for the runtime.
    pub fn push(&self, commands: Vec<dhcp_config::Command>) {
        if commands.is_empty() {
            return;
        }
        if let Ok(mut q) = self.waiting.lock() {
            for c in commands {
                if q.len() >= Self::MAX {
                    self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(program = %c.program, "execute: too many programs waiting; this one is not run");
                    continue;
                }
                q.push_back(c);
            }
        }
        self.ready.notify_one();
    }

    /// The programs waiting, oldest first.
    pub fn take(&self) -> Vec<dhcp_config::Command> {
        self.waiting.lock().map(|mut q| q.drain(..).collect()).unwrap_or_default()
    }

    /// Resolves when programs were queued since the last call.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Programs dropped because too many were waiting.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The per-packet statements of a scope chain, in order.
pub fn run_dynamic(dynamic: &[Dynamic], p: &mut Params, pkt: &Packet<'_>) {
    for d in dynamic {
        run(std::slice::from_ref(&d.action), &d.shadowed, p, pkt);
    }
}

/// The statements of the packet's classes, as dhcpd's ack_lease executes them: from
/// the last class joined to the first (so the first one's values win), each class's
/// own statements then its subclass's.
/// `ignore-client-uids` as the client's classes set it (unconditionally: under an `if` it
/// is refused at load), the first class joined winning as in [`run_classes`]; `None` if
/// none sets it. No statement runs: only the flag is read.
pub fn classes_ignore_client_uids(all: &[Class], joined: &Classes) -> Option<bool> {
    let flag = |actions: &[Action]| {
        actions.iter().rev().find_map(|a| match a {
            Action::Flag(dhcp_config::Flag::IgnoreClientUids, v) => Some(*v),
            _ => None,
        })
    };
    joined.iter().find_map(|(c, sub)| {
        let class = all.get(c)?;
        sub.and_then(|s| class.subclasses.get(s)).and_then(|s| flag(&s.actions)).or_else(|| flag(&class.actions))
    })
}

/// `here`: the client's shared network and subnet (by index), the scopes its own chain
/// already evaluated: a class declared in another scope runs that scope's statements
/// again first (dhcpd's class group is a clone of its enclosing scope's group).
pub fn run_classes(
    all: &[Class],
    joined: &Classes,
    p: &mut Params,
    pkt: &Packet<'_>,
    here: impl Fn() -> (usize, Option<usize>),
) {
    for (c, sub) in joined.iter().rev() {
        let Some(class) = all.get(c) else { continue };
        if !class.enclosing.is_empty() {
            let (net, subnet) = here();
            for (scope, actions) in &class.enclosing {
                let own = match *scope {
                    dhcp_config::ScopeKey::SharedNetwork(n) => n == net,
                    dhcp_config::ScopeKey::Subnet(n, s) => n == net && subnet == Some(s),
                };
                if !own {
                    run(actions, &[], p, pkt);
                }
            }
        }
        run(&class.actions, &[], p, pkt);
        if let Some(s) = sub.and_then(|s| class.subclasses.get(s)) {
            run(&s.actions, &[], p, pkt);
        }
    }
}
