//! Failover, engine side: what a failover relationship means for leases. The protocol itself
//! (connection, states, messages) is the sans-IO `dhcp_failover::Peer`; `runtime::failover`
//! drives it. Here: the view of a relationship the DHCP engine consults per request, the
//! conversion between leases and BNDUPD bindings, and dhcpd's rules for accepting the
//! partner's updates (digest §4.3).

pub mod config_digest;
pub mod node;
pub mod relationship;
pub mod state_write;
pub mod status;

use crate::lease::{BindingState, ClientKey, HwAddr, Lease, Take};
use dhcp_common::Steering;
use dhcp_failover::transitions::ServiceLevel;
use dhcp_failover::wire::{Binding, IpFlags};
use dhcp_failover::{Role, State};

/// What the engine needs to know about a relationship, published by the runtime whenever the
/// peer's state changes.
#[derive(Clone, Debug)]
pub struct FailoverView {
    pub role: Role,
    pub state: State,
    pub partner_state: State,
    pub service: ServiceLevel,
    pub mclt: u32,
    /// Start time of the current state (Unix seconds).
    pub stos: u32,
    /// The load-balancing steering (also written to the XDP program).
    pub steering: Steering,
}

impl FailoverView {
    /// A primary in NORMAL with its partner, split 128 (tests).
    #[cfg(test)]
    pub(crate) fn normal_primary_for_tests() -> FailoverView {
        FailoverView {
            role: Role::Primary,
            state: State::NORMAL,
            partner_state: State::NORMAL,
            service: ServiceLevel::Cooperating,
            mclt: 60,
            stos: 1000,
            steering: Steering {
                hba: dhcp_common::Hba::from_split(128),
                lb_max_secs: 3,
                role: Role::Primary.code(),
                state: State::NORMAL.get(),
                has_hba: 1,
                partner_has_free: 1,
                enforce: 0,
                _pad: 0,
            },
        }
    }

    /// The free-state leases this server may allocate at `now` (None: no service).
    pub fn take(&self, now: u32) -> Option<Take> {
        let own = match self.role {
            Role::Primary => Take::Free,
            Role::Secondary => Take::Backup,
        };
        match self.service {
            ServiceLevel::None => None,
            ServiceLevel::Cooperating | ServiceLevel::NotCooperating => Some(own),
            // The partner's free leases only after the MCLT wait (digest §2.4).
            ServiceLevel::PartnerDown => {
                let partner_free = match self.role {
                    Role::Primary => BindingState::Backup,
                    Role::Secondary => BindingState::Free,
                };
                Some(if now >= self.stos.saturating_add(self.mclt) {
                    Take::Both { mclt: self.mclt, partner_free }
                } else {
                    own
                })
            }
        }
    }
}

/// The view of a relationship as its `Peer` stands: what both the runtime and the simulator
/// publish to the engine (and the runtime to the XDP program). `enforce` lets the XDP
/// program drop; the engine's own check ignores it.
pub fn view_of(peer: &dhcp_failover::Peer, partner_has_free: bool, enforce: bool) -> FailoverView {
    let hba = peer.hba();
    let role = peer.config().role;
    FailoverView {
        role,
        state: peer.state(),
        partner_state: peer.partner_state(),
        service: peer.service(),
        mclt: peer.mclt(),
        stos: peer.stos(),
        steering: Steering {
            hba: dhcp_common::Hba(hba.unwrap_or([0; 32])),
            lb_max_secs: peer.config().load_balance_max_secs.min(u32::from(u16::MAX)) as u16,
            role: role.code(),
            state: peer.state().get(),
            has_hba: u8::from(hba.is_some()),
            partner_has_free: u8::from(partner_has_free),
            enforce: u8::from(enforce),
            _pad: 0,
        },
    }
}

/// The BNDUPD for a lease, as dhcpd fills it (digest §1.5).
pub fn binding_of(l: &Lease) -> Binding {
    let chaddr = l.hw.map(|h| {
        let mut v = vec![h.htype];
        v.extend_from_slice(h.as_slice());
        v
    });
    Binding {
        ip: l.ip,
        status: l.state.into(),
        client_id: l.client.as_ref().and_then(|k| k.client_id()).map(<[u8]>::to_vec),
        chaddr,
        ends: if l.ends == crate::time::NEVER { dhcp_failover::transitions::MAX_TIME } else { l.ends },
        tstp: l.tstp,
        starts: l.starts,
        cltt: l.cltt,
        ip_flags: IpFlags::NONE,
        vendor: vendor_of(l),
    }
}

/// A lease's DNS-update variables (`ddns-fwd-name`, ...), in their order.
pub fn ddns_vars(v: Option<&dhcp_config::Vars>) -> Vec<(String, Vec<u8>)> {
    let ddns = |(n, v): &(String, dhcp_config::Val)| match v {
        dhcp_config::Val::Data(d) if crate::ddns::vars::ALL.contains(&n.as_str()) => Some((n.clone(), d.clone())),
        _ => None,
    };
    v.map(|v| v.0.iter().filter_map(ddns).collect()).unwrap_or_default()
}

/// Option 29 of every BNDUPD: the lease's DNS state as this server holds it (empty when
/// it holds none), so an xdhcpd partner that ends the lease knows what to remove. Sent
/// always, so that its absence means a dhcpd partner; dhcpd skips it.
fn vendor_of(l: &Lease) -> Option<Vec<u8>> {
    let state = dhcp_failover::wire::vendor::XdhcpdVendor { vars: ddns_vars(l.vars.as_deref()) };
    match state.encode() {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(ip = %l.ip, "DNS state not passed to the failover partner: {e}");
            None
        }
    }
}

/// What a partner's BNDUPD says about the lease's DNS records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartnerDdns {
    /// No xdhcpd option 29: a dhcpd partner, which passes no DNS state.
    Unknown,
    /// An xdhcpd partner's DNS-update variables (empty: it holds none).
    Known(Vec<(String, Vec<u8>)>),
}

impl PartnerDdns {
    /// From option 29 of a partner's BNDUPD; a malformed one is logged and read as absent.
    pub fn of(b: &Binding) -> PartnerDdns {
        let Some(raw) = b.vendor.as_deref() else { return PartnerDdns::Unknown };
        match dhcp_failover::wire::vendor::XdhcpdVendor::decode(raw) {
            Ok(Some(v)) => PartnerDdns::Known(
                v.vars.into_iter().filter(|(n, _)| crate::ddns::vars::ALL.contains(&n.as_str())).collect(),
            ),
            Ok(None) => PartnerDdns::Unknown,
            Err(e) => {
                tracing::warn!(ip = %b.ip, "partner's DNS state ignored: {e}");
                PartnerDdns::Unknown
            }
        }
    }
}

/// Records this server must remove after a partner's update: the variables naming them,
/// and whether the address's PTR goes too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerEndRemoval {
    pub vars: dhcp_config::Vars,
    pub with_ptr: bool,
}

/// The DNS side of applying a partner's BNDUPD (after [`apply`]), one rule for both kinds
/// of partner. `own` are the lease's DNS variables before the update, `was_bound` whether
/// it was bound, `client_changed` whether the update names another client.
///
/// * Still bound to the same client: an xdhcpd partner's variables replace ours when it
///   holds any (it did the latest update; `update-optimization` then sees the names on a
///   renewal here). A dhcpd partner passes none: ours stay, as dhcpd keeps its own scope.
/// * The binding ended (release, expiry, reclamation): the partner that ended it removes
///   what it knows. When it told us the same records we hold, ours are dropped (one
///   removal, not two racing: a late PTR deletion could hit the address's next holder).
///   When we hold records it does not know (a dhcpd partner; or our update's variables had
///   not reached it), we remove ours, as dhcpd does when a partner's update ends a lease
///   it updated DNS for (server/mdb.c `make_binding_state_transition`).
/// * Another client's binding: the old client's forward records, if we hold them, are
///   removed (dhcpd's `ddns_removals` in `dhcp_failover_process_bind_update`); its PTR is
///   left, since the address's new holder has its own, set by its server meanwhile.
pub fn partner_ddns(
    l: &mut Lease,
    own: Vec<(String, Vec<u8>)>,
    was_bound: bool,
    client_changed: bool,
    partner: &PartnerDdns,
) -> Option<PartnerEndRemoval> {
    let bound = matches!(l.state, BindingState::Active | BindingState::Bootp);
    let same_as_own = matches!(partner, PartnerDdns::Known(s) if *s == own);
    let own_vars = dhcp_config::Vars::from_data(own);
    let own_has = crate::ddns::plan::has_records(&own_vars);
    if client_changed {
        if bound && let PartnerDdns::Known(s) = partner {
            set_ddns_vars(l, s);
        }
        return own_has.then_some(PartnerEndRemoval { vars: own_vars, with_ptr: false });
    }
    if bound {
        if let PartnerDdns::Known(s) = partner
            && !s.is_empty()
        {
            set_ddns_vars(l, s);
        }
        return None;
    }
    if !was_bound {
        return None;
    }
    match partner {
        PartnerDdns::Known(_) if same_as_own => {
            set_ddns_vars(l, &[]);
            None
        }
        _ => own_has.then_some(PartnerEndRemoval { vars: own_vars, with_ptr: true }),
    }
}

/// Replaces the lease's DNS variables by `with`, keeping its other variables.
fn set_ddns_vars(l: &mut Lease, with: &[(String, Vec<u8>)]) {
    let mut v = l.vars.take().map(|b| *b).unwrap_or_default();
    v.0.retain(|(n, _)| !crate::ddns::vars::ALL.contains(&n.as_str()));
    v.0.extend(with.iter().map(|(n, d)| (n.clone(), dhcp_config::Val::Data(d.clone()))));
    l.vars = (!v.0.is_empty()).then(|| Box::new(v));
}

/// Why a partner's update was refused: (reject reason, message), for the BNDACK.
pub type Refusal = (dhcp_failover::wire::RejectReason, String);

/// A partner's BNDUPD, as the runtime and the simulator both handle it: the duel with our
/// crossing update (`own_pending` from [`dhcp_failover::Event::BindingReceived`]), dhcpd's
/// acceptance check, the apply; when the partner's update wins, ours is withdrawn. The
/// caller journals the lease, then acks; on `Err` it NAKs, then calls [`answer_refusal`].
pub fn receive_binding(
    engine: &crate::dhcp::Engine,
    peer: &mut dhcp_failover::Peer,
    name: &str,
    now: crate::time::Now,
    b: &Binding,
    own_pending: Option<Binding>,
) -> Result<Lease, Refusal> {
    let own = peer.crossing_update(b.ip, own_pending);
    let lease = engine.apply_binding(name, now, b, own.as_ref())?;
    if let Some(own) = &own {
        peer.withdraw_update(own);
    }
    Ok(lease)
}

/// After NAKing a partner's update of `ip`: if it was refused as outdated (ours is newer),
/// send ours so both sides converge on it.
pub fn answer_refusal(
    engine: &crate::dhcp::Engine,
    peer: &mut dhcp_failover::Peer,
    now: dhcp_failover::Time,
    ip: std::net::Ipv4Addr,
    reason: dhcp_failover::wire::RejectReason,
) {
    if reason == dhcp_failover::wire::RejectReason::OUTDATED_BIND_INFO
        && let Some(l) = engine.store().get(ip)
    {
        peer.handle_lease_update(now, binding_of(&l));
    }
}

/// dhcpd's acceptance check for a partner's BNDUPD (digest §4.3). Returns the state to store.
pub fn accept(current: &Lease, b: &Binding, receiver: Role, normal: bool, now: u32) -> Result<BindingState, Refusal> {
    use dhcp_failover::wire::RejectReason as R;
    let incoming = BindingState::try_from(b.status).map_err(|e| (R::MISSING_BINDINFO, format!("{}: {e}", b.ip)))?;
    if matches!(incoming, BindingState::Active | BindingState::Expired | BindingState::Released) && b.chaddr.is_none() {
        return Err((R::MISSING_BINDINFO, format!("{}: no hardware address for {}", b.ip, incoming.name())));
    }
    let invalid = || {
        (
            R::FATAL_CONFLICT,
            format!("{}: invalid state transition: {} to {}", b.ip, current.state.name(), incoming.name()),
        )
    };
    if let Some(why) = outdated(current, b, incoming) {
        return Err((R::OUTDATED_BIND_INFO, format!("{}: outdated binding information: {why}", b.ip)));
    }
    let freeing = matches!(incoming, BindingState::Free | BindingState::Backup);
    let ok = if normal {
        match current.state {
            BindingState::Free | BindingState::Abandoned | BindingState::Released | BindingState::Backup => true,
            BindingState::Active | BindingState::Bootp | BindingState::Reserved => match receiver {
                Role::Primary => {
                    matches!(incoming, BindingState::Released | BindingState::Abandoned | BindingState::Active)
                }
                Role::Secondary => match incoming {
                    BindingState::Free | BindingState::Backup => b.tstp <= now,
                    BindingState::Expired => current.ends.saturating_sub(65) <= now,
                    _ => true,
                },
            },
            BindingState::Expired | BindingState::Reset => !freeing || b.tstp <= now,
        }
    } else {
        // Conflict checking: a non-active lease takes the partner's state; an active one
        // refuses to be freed and expires only when due.
        match current.state {
            BindingState::Active | BindingState::Bootp | BindingState::Reserved => match incoming {
                BindingState::Free | BindingState::Backup => false,
                BindingState::Expired => current.ends.saturating_sub(65) <= now,
                _ => true,
            },
            _ => true,
        }
    };
    if !ok {
        return Err(invalid());
    }
    // Accepted EXPIRED, RELEASED and RESET are stored directly as FREE.
    Ok(match incoming {
        BindingState::Expired | BindingState::Released | BindingState::Reset => BindingState::Free,
        s => s,
    })
}

/// "Dueling updates" (digest §2.7): the partner's update of a lease crosses our own un-acked
/// update of it. Both servers decide with this one rule, each from its side, so exactly one
/// update wins on both (the rule is antisymmetric): the loser withdraws its update and applies
/// the winner's, the winner refuses the other with reason 16 (less critical binding
/// information). dhcpd's rules ("an incoming ACTIVE beats any non-active state; an incoming
/// EXPIRED beats active") are not antisymmetric: crossing ACTIVE and EXPIRED updates swap and
/// the pair disagrees, which the deterministic simulation showed. Here:
/// * two bindings: of the same client the longer grant wins (the client may hold either), of
///   different clients the later transaction (cltt); a tie goes to the primary;
/// * a binding against an end of it (EXPIRED, RELEASED, ABANDONED, RESET) or a free-state
///   transfer: the binding wins if the client was still holding it when the other state was
///   entered (its `ends` lies after the other's start of state), else the end wins;
/// * two non-bound states: the primary's wins (it owns the pool's free leases).
pub fn own_update_wins(own: &Binding, incoming: &Binding, me: Role) -> bool {
    let bound = |b: &Binding| b.status.state() == Some(BindingState::Active);
    let mine_on_tie = me == Role::Primary;
    match (bound(own), bound(incoming)) {
        // The same client renewed with both (a broadcast REQUEST while rebinding): it may
        // hold either grant, so the longer one stands. Different clients: the later
        // transaction.
        (true, true) if binding_client(own).is_some() && binding_client(own) == binding_client(incoming) => {
            own.ends > incoming.ends || (own.ends == incoming.ends && mine_on_tie)
        }
        (true, true) => own.cltt > incoming.cltt || (own.cltt == incoming.cltt && mine_on_tie),
        (true, false) => binding_outlives(own, incoming),
        (false, true) => !binding_outlives(incoming, own),
        (false, false) => mine_on_tie,
    }
}

/// Was the client of `binding` still holding it when `other` entered its (non-bound) state?
fn binding_outlives(binding: &Binding, other: &Binding) -> bool {
    let entered =
        if other.status.state() == Some(BindingState::Expired) { other.ends } else { other.starts.max(other.cltt) };
    binding.ends > entered
}

/// The client a binding names: its client identifier, else its hardware address.
pub(crate) fn binding_client(b: &Binding) -> Option<ClientKey> {
    match (&b.client_id, &b.chaddr) {
        (Some(id), _) if !id.is_empty() => Some(ClientKey::from_client_id(id)),
        (_, Some(c)) => c.split_first().map(|(t, mac)| ClientKey::from_hw(*t, mac)),
        _ => None,
    }
}

/// An update about an older transaction than the active binding we hold. dhcpd trusts a
/// 65-second fudge here; with crossing updates (a renewal on one server while the other
/// expires or releases the previous binding) that loses a live lease, which the
/// deterministic simulation showed. The caller rejects the update (reason 15) and sends its
/// own, newer binding instead, so both sides converge on it.
fn outdated(current: &Lease, b: &Binding, incoming: BindingState) -> Option<&'static str> {
    if !matches!(current.state, BindingState::Active | BindingState::Bootp | BindingState::Reserved) {
        return None;
    }
    let same_client = binding_client(b).is_some_and(|k| current.client.as_ref() == Some(&k));
    let older = b.cltt != 0 && current.cltt != 0 && b.cltt < current.cltt;
    match incoming {
        // The tolerance absorbs the partner clock's correction (±1 s each way, see
        // `dhcp_failover::Peer::skew_secs`); a renewal moves `ends` by far more.
        BindingState::Expired if b.ends.saturating_add(ENDS_TOLERANCE_SECS) < current.ends || !same_client => {
            Some("expiry of an older binding")
        }
        BindingState::Released | BindingState::Abandoned | BindingState::Reset if !same_client || older => {
            Some("release of an older binding")
        }
        // A free-state transfer queued before the client's transaction, delivered after it.
        BindingState::Free | BindingState::Backup if current.cltt != 0 && b.starts < current.cltt => {
            Some("a free-state update older than the binding")
        }
        BindingState::Active if !same_client && older => Some("a newer binding to another client exists"),
        BindingState::Active if same_client && older && b.ends < current.ends => Some("a newer renewal exists"),
        _ => None,
    }
}

/// How far apart two `ends` of the same binding may be after clock-skew correction.
const ENDS_TOLERANCE_SECS: u32 = 2;

/// Apply an accepted binding to a lease (times, client, state).
pub fn apply(l: &mut Lease, b: &Binding, state: BindingState) {
    let client_before = l.client.clone();
    l.state = state;
    l.starts = b.starts;
    l.ends = if b.ends >= dhcp_failover::transitions::MAX_TIME { crate::time::NEVER } else { b.ends };
    // The partner acknowledged-by-sending this time: it is what we may rely on.
    l.tsfp = b.tstp;
    l.atsfp = b.tstp;
    // A free-state lease taken from the partner leaves us nothing to send about it. A stale
    // tstp of our own (from when we last granted it) would make it look un-acked (`tstp >
    // atsfp`): we would send FREE with a potential expiry in the future, which a secondary
    // refuses over EXPIRED, while our pending update beats its EXPIRED in the duel — a pair
    // stuck disagreeing (simulation seeds 1837, 6409).
    if matches!(state, BindingState::Free | BindingState::Backup) {
        l.tstp = b.tstp;
    }
    if b.cltt != 0 {
        l.cltt = b.cltt;
    }
    let hw = b.chaddr.as_ref().and_then(|c| c.split_first()).map(|(t, mac)| HwAddr::new(*t, mac));
    if hw.is_some() {
        l.hw = hw;
    }
    l.client = match (&b.client_id, &l.hw) {
        (Some(id), _) if !id.is_empty() => Some(ClientKey::from_client_id(id)),
        (_, Some(h)) if matches!(state, BindingState::Active) => Some(ClientKey::from_hw(h.htype, h.as_slice())),
        // dhcpd keeps the uid on free-state updates (affinity) and clears it otherwise.
        _ if matches!(state, BindingState::Free | BindingState::Backup | BindingState::Reset) => l.client.clone(),
        _ => None,
    };
    // Binding-scope variables belong to the binding they were set for; the failover
    // protocol does not carry them, so another client's binding starts without any.
    if l.client != client_before {
        l.vars = None;
        // Billing is this server's own bookkeeping of its bindings (dhcpd's too), and so
        // are the event statements of the binding.
        l.billing = None;
        l.on_events = None;
    }
    l.offer = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn lease(state: BindingState, ends: u32) -> Lease {
        let mut l = Lease::free(Ipv4Addr::new(198, 18, 0, 10), 0);
        l.state = state;
        l.ends = ends;
        // The same client as `binding()`, with an older transaction.
        l.client = Some(ClientKey::from_hw(1, &[0x52, 0x54, 0, 0, 0, 1]));
        l.cltt = 900;
        l
    }

    fn binding(state: BindingState, tstp: u32) -> Binding {
        Binding {
            ip: Ipv4Addr::new(198, 18, 0, 10),
            status: state.into(),
            client_id: None,
            chaddr: Some(vec![1, 0x52, 0x54, 0, 0, 0, 1]),
            ends: 5000,
            tstp,
            starts: 1000,
            cltt: 1000,
            ip_flags: IpFlags::NONE,
            vendor: None,
        }
    }

    #[test]
    fn a_partners_binding_of_another_client_drops_the_variables() {
        let mut vars = dhcp_config::Vars::default();
        vars.set("vendor-string", Some(b"PXEClient".to_vec()));
        // The same client renewed by the partner: its binding scope stays.
        let mut l = lease(BindingState::Active, 5000);
        l.vars = Some(Box::new(vars.clone()));
        apply(&mut l, &binding(BindingState::Active, 6000), BindingState::Active);
        assert_eq!(l.vars.as_deref(), Some(&vars));
        // Another client: the protocol carries no variables, so none are left.
        let mut other = binding(BindingState::Active, 6000);
        other.chaddr = Some(vec![1, 0x52, 0x54, 0, 0, 0, 9]);
        apply(&mut l, &other, BindingState::Active);
        assert_eq!(l.vars, None);
    }

    #[test]
    fn primary_refuses_expiry_of_active_from_secondary() {
        let l = lease(BindingState::Active, 5000);
        assert!(accept(&l, &binding(BindingState::Expired, 0), Role::Primary, true, 1000).is_err());
        assert!(accept(&l, &binding(BindingState::Free, 0), Role::Primary, true, 1000).is_err());
        assert_eq!(accept(&l, &binding(BindingState::Released, 0), Role::Primary, true, 1000), Ok(BindingState::Free));
    }

    #[test]
    fn secondary_accepts_expiry_when_due() {
        let l = lease(BindingState::Active, 1050);
        assert!(accept(&l, &binding(BindingState::Expired, 0), Role::Secondary, true, 1000).is_ok());
        let l = lease(BindingState::Active, 5000);
        assert!(accept(&l, &binding(BindingState::Expired, 0), Role::Secondary, true, 1000).is_err());
    }

    #[test]
    fn outdated_updates_are_refused() {
        // A RELEASE of another client's binding, or an expiry of an older binding.
        let mut l = lease(BindingState::Active, 9000);
        l.client = Some(ClientKey::from_hw(1, &[0x52, 0x54, 0, 0, 0, 2]));
        let r = accept(&l, &binding(BindingState::Released, 0), Role::Primary, true, 1000);
        assert_eq!(r.map_err(|e| e.0), Err(dhcp_failover::wire::RejectReason::OUTDATED_BIND_INFO));
        let l = lease(BindingState::Active, 9000);
        let r = accept(&l, &binding(BindingState::Expired, 0), Role::Secondary, true, 9000);
        assert_eq!(r.map_err(|e| e.0), Err(dhcp_failover::wire::RejectReason::OUTDATED_BIND_INFO));
    }

    #[test]
    fn dueling_updates_have_one_winner_on_both_sides() {
        // Every ordered pair of crossing updates: exactly one side keeps its own.
        let mut cases = Vec::new();
        for status in [BindingState::Active, BindingState::Expired, BindingState::Released, BindingState::Backup] {
            for (ends, starts, cltt) in [(5000, 1000, 1000), (1200, 1200, 1100), (9000, 900, 900)] {
                let mut b = binding(status, 0);
                (b.ends, b.starts, b.cltt) = (ends, starts, cltt);
                cases.push(b);
            }
        }
        for p in &cases {
            for s in &cases {
                let primary_keeps = own_update_wins(p, s, Role::Primary);
                let secondary_keeps = own_update_wins(s, p, Role::Secondary);
                assert_ne!(primary_keeps, secondary_keeps, "P {p:?} vs S {s:?}");
            }
        }
    }

    #[test]
    fn dueling_renewal_beats_expiry_of_the_previous_binding() {
        let mut renewal = binding(BindingState::Active, 0);
        (renewal.ends, renewal.cltt) = (9000, 4000);
        let mut expiry = binding(BindingState::Expired, 0);
        (expiry.ends, expiry.starts) = (5000, 1000);
        assert!(own_update_wins(&renewal, &expiry, Role::Secondary));
        assert!(!own_update_wins(&expiry, &renewal, Role::Primary));
        // Two free-state changes: the primary's stands.
        let backup = binding(BindingState::Backup, 0);
        assert!(own_update_wins(&backup, &expiry, Role::Primary));
        assert!(!own_update_wins(&expiry, &backup, Role::Secondary));
    }

    #[test]
    fn free_leases_take_anything() {
        let l = lease(BindingState::Free, 0);
        for s in [BindingState::Active, BindingState::Backup, BindingState::Abandoned] {
            assert!(accept(&l, &binding(s, 0), Role::Secondary, true, 1000).is_ok());
        }
    }

    #[test]
    fn active_without_chaddr_is_missing_info() {
        let l = lease(BindingState::Free, 0);
        let mut b = binding(BindingState::Active, 0);
        b.chaddr = None;
        assert_eq!(
            accept(&l, &b, Role::Primary, true, 0).map_err(|e| e.0),
            Err(dhcp_failover::wire::RejectReason::MISSING_BINDINFO)
        );
    }

    fn ddns_state(name: &str) -> Vec<(String, Vec<u8>)> {
        vec![
            (crate::ddns::vars::FWD_NAME.into(), format!("{name}.example.test").into_bytes()),
            (crate::ddns::vars::TXT.into(), b"31abc".to_vec()),
            (crate::ddns::vars::REV_NAME.into(), b"10.0.18.198.in-addr.arpa.".to_vec()),
        ]
    }

    fn with_vars(mut l: Lease, vars: Vec<(String, Vec<u8>)>) -> Lease {
        l.vars = Some(Box::new(dhcp_config::Vars::from_data(vars)));
        l
    }

    #[test]
    fn the_bndupd_carries_the_dns_state_and_only_it() {
        let mut vars = ddns_state("laptop");
        vars.insert(0, ("vendor-string".into(), b"PXEClient".to_vec()));
        let l = with_vars(lease(BindingState::Active, 5000), vars);
        let b = binding_of(&l);
        assert_eq!(PartnerDdns::of(&b), PartnerDdns::Known(ddns_state("laptop")));
        // No variables: the option still goes, empty, so the partner knows it is told.
        let b = binding_of(&lease(BindingState::Active, 5000));
        assert_eq!(PartnerDdns::of(&b), PartnerDdns::Known(vec![]));
        // dhcpd sends no option 29; another vendor's or a malformed one counts as none.
        let mut b = binding(BindingState::Active, 0);
        assert_eq!(PartnerDdns::of(&b), PartnerDdns::Unknown);
        b.vendor = Some(b"other".to_vec());
        assert_eq!(PartnerDdns::of(&b), PartnerDdns::Unknown);
        b.vendor = Some(b"xdhcpd\x01\x01\x00\x09".to_vec());
        assert_eq!(PartnerDdns::of(&b), PartnerDdns::Unknown);
    }

    #[test]
    fn a_renewal_by_an_xdhcpd_partner_brings_its_names() {
        let mut l = with_vars(lease(BindingState::Active, 5000), ddns_state("old"));
        let r = partner_ddns(&mut l, ddns_state("old"), true, false, &PartnerDdns::Known(ddns_state("new")));
        assert_eq!(r, None);
        assert_eq!(ddns_vars(l.vars.as_deref()), ddns_state("new"));
        // An update that says nothing yet (its DNS work is still to come) leaves ours.
        let r = partner_ddns(&mut l, ddns_state("new"), true, false, &PartnerDdns::Known(vec![]));
        assert_eq!(r, None);
        assert_eq!(ddns_vars(l.vars.as_deref()), ddns_state("new"));
        // A dhcpd partner passes nothing: ours stay, as dhcpd keeps its own scope.
        let r = partner_ddns(&mut l, ddns_state("new"), true, false, &PartnerDdns::Unknown);
        assert_eq!(r, None);
        assert_eq!(ddns_vars(l.vars.as_deref()), ddns_state("new"));
    }

    #[test]
    fn an_end_is_removed_once_by_the_server_that_knows() {
        // The partner ended it knowing our records: it removes them, we forget them.
        let mut l = with_vars(lease(BindingState::Free, 5000), ddns_state("a"));
        let r = partner_ddns(&mut l, ddns_state("a"), true, false, &PartnerDdns::Known(ddns_state("a")));
        assert_eq!(r, None);
        assert_eq!(l.vars, None);
        // The partner did not know them (our update's BNDUPD had not reached it): we remove.
        let mut l = with_vars(lease(BindingState::Free, 5000), ddns_state("a"));
        let r = partner_ddns(&mut l, ddns_state("a"), true, false, &PartnerDdns::Known(vec![]));
        assert_eq!(r, Some(PartnerEndRemoval { vars: dhcp_config::Vars::from_data(ddns_state("a")), with_ptr: true }));
        // Kept until the removal succeeds (a restart would queue it again).
        assert_eq!(ddns_vars(l.vars.as_deref()), ddns_state("a"));
        // A dhcpd partner: we remove ours, as dhcpd does on its partner's release.
        let mut l = with_vars(lease(BindingState::Free, 5000), ddns_state("a"));
        let r = partner_ddns(&mut l, ddns_state("a"), true, false, &PartnerDdns::Unknown);
        assert!(r.is_some_and(|r| r.with_ptr));
        // Already ended here: nothing more (the removal was queued when it ended).
        let mut l = with_vars(lease(BindingState::Free, 5000), ddns_state("a"));
        assert_eq!(partner_ddns(&mut l, ddns_state("a"), false, false, &PartnerDdns::Unknown), None);
        // Nothing of ours: nothing to remove, and the partner's names are its own to remove.
        let mut l = lease(BindingState::Free, 5000);
        assert_eq!(partner_ddns(&mut l, vec![], true, false, &PartnerDdns::Known(ddns_state("b"))), None);
        assert_eq!(l.vars, None);
    }

    #[test]
    fn another_clients_binding_removes_the_old_forward_records_only() {
        let mut l = lease(BindingState::Active, 5000);
        let r = partner_ddns(&mut l, ddns_state("old"), true, true, &PartnerDdns::Known(ddns_state("new")));
        assert_eq!(
            r,
            Some(PartnerEndRemoval { vars: dhcp_config::Vars::from_data(ddns_state("old")), with_ptr: false })
        );
        assert_eq!(ddns_vars(l.vars.as_deref()), ddns_state("new"));
    }
}
