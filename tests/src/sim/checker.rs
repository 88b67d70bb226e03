//! The invariants, checked after every step of the simulation.
//!
//! * **(a) no double binding**: no address is held by two clients at once, judged from what
//!   the clients hold (an ACKed lease until request-sent + lease-time, dropped on release,
//!   NAK or expiry).
//! * **(b) MCLT rule**: every ACK gives at most the desired lease time, and more than the
//!   MCLT only as far as the partner vouched for (`given ≤ tsfp − now + MCLT`, where the
//!   lease's tsfp must not exceed a tstp the partner actually acked or sent).
//! * **(c) durability**: after a restart that kept the lease file, every lease a client still
//!   holds from that server's last ACK is in the restored store, bound to that client, ending
//!   no earlier than the ACK said.
//! * **(e) the lease file follows memory**: at every crash (before the unsynced tail is
//!   cut) and at the end, for every address bound in the store or in the lease file (the last
//!   record of each address, everything written so far), both say the same state, client
//!   and end, except for addresses a DHCP worker bound and has not handed to the journal yet.
//!   Otherwise a restart would bring back an older binding than memory had: whatever the
//!   order in which changes reach the journal (issue 10: a worker descheduled between its
//!   engine step and its commit while a partner's update of the same address goes first).
//! * **(d) liveness and agreement**: after the heal, both servers reach NORMAL within
//!   [`super::LIVENESS_BOUND_MS`]; when clients stop and nothing is in flight, both stores
//!   agree on every address's binding state (and client and end for bound ones).
//!
//! Assumptions the fault injector respects (operator rules, not protocol guarantees): an
//! operator declares partner-down only against a server that is down (and did not go down in
//! PARTNER-DOWN itself: a double partner-down), never on a server that
//! lost its lease file and has not resynchronised since, and the downed server comes back
//! connected (it restarts only while the server in PARTNER-DOWN is up, which does not crash
//! before they have talked; partitions running at its restart end, and no disk fault keeps the server in
//! PARTNER-DOWN silent meanwhile: a server that cannot write its state holds and sends
//! nothing, which to the returning partner is a dead link); a lease file is lost only when the
//! partner knows every binding (nothing was queued or un-acked at the crash, the server has
//! never been in PARTNER-DOWN, and the partner is not itself recovering from a lost file).
//! Violating any of these loses or duplicates bindings with any failover implementation.

use super::{SEC, Sim, Stage, What};
use dhcp_failover::State;
use dhcp_user::failover::node::Trace;
use dhcp_user::lease::BindingState;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub struct Checker {
    /// Link faults are suspended until server `i` (declared down by the operator) is back
    /// and communicating.
    pub guard: [bool; 2],
    /// Server `i` lost its lease file and has not been NORMAL since.
    pub needs_resync: [bool; 2],
    /// Server `i` has been in PARTNER-DOWN.
    pub been_partner_down: [bool; 2],
    /// Server `i` crashed with updates the partner had not acked (queued or in flight).
    pub unsynced_at_crash: [bool; 2],
    /// Per server, per address: the largest tstp the partner acked or sent.
    pub vouched: [BTreeMap<Ipv4Addr, u32>; 2],
    /// Per server, the partner updates (address, tstp) it applied.
    applied: [std::collections::BTreeSet<(Ipv4Addr, u32)>; 2],
    /// Partner updates applied a second time (see `Outcome::dup_updates`).
    pub dup_updates: u64,
    /// Per client: (server, ip, lease end in that server's clock) of the last ACK accepted.
    pub last_ack: Vec<Option<(usize, Ipv4Addr, u32)>>,
    failure: Option<String>,
}

impl Checker {
    pub fn new(clients: usize) -> Checker {
        Checker {
            guard: [false; 2],
            needs_resync: [false; 2],
            been_partner_down: [false; 2],
            unsynced_at_crash: [false; 2],
            vouched: [BTreeMap::new(), BTreeMap::new()],
            applied: Default::default(),
            dup_updates: 0,
            last_ack: vec![None; clients],
            failure: None,
        }
    }

    /// Records a violation found outside `check` (reported at the end of the step).
    pub fn fail(&mut self, msg: String) {
        if self.failure.is_none() {
            self.failure = Some(msg);
        }
    }

    pub fn on_trace(&mut self, srv: usize, t: &Trace) {
        if let Trace::Received { ip, tstp, accepted: true, .. } = t
            && let Some(seen) = self.applied.get_mut(srv)
            && !seen.insert((*ip, *tstp))
        {
            self.dup_updates += 1;
        }
        let (ip, tstp) = match t {
            Trace::Acked { ip, tstp } => (*ip, *tstp),
            Trace::Received { ip, tstp, accepted: true, .. } => (*ip, *tstp),
            _ => return,
        };
        let v = self.vouched[srv].entry(ip).or_insert(0);
        *v = (*v).max(tstp);
    }

    pub fn on_client_ack(&mut self, c: usize, srv: usize, ip: Ipv4Addr, _secs: u32, ends: u32) {
        if let Some(slot) = self.last_ack.get_mut(c) {
            *slot = Some((srv, ip, ends));
        }
    }

    /// (b): an ACK a server just produced.
    #[allow(clippy::too_many_arguments)]
    pub fn on_server_ack(
        &mut self,
        srv: usize,
        ip: Ipv4Addr,
        given: u32,
        desired: u32,
        mclt: u32,
        tsfp_before: u32,
        now: u32,
    ) -> Result<(), String> {
        let who = super::who(srv);
        if given > desired {
            return Err(format!("(b) {who} ACKed {ip} for {given}s, more than the desired {desired}s"));
        }
        if given <= mclt {
            return Ok(());
        }
        if tsfp_before <= now {
            return Err(format!(
                "(b) {who} ACKed {ip} for {given}s > MCLT {mclt}s although the partner never vouched beyond now \
                 (tsfp {tsfp_before}, now {now})"
            ));
        }
        let limit = u64::from(tsfp_before - now) + u64::from(mclt);
        if u64::from(given) > limit {
            return Err(format!(
                "(b) {who} ACKed {ip} for {given}s > tsfp − now + MCLT = {limit}s (tsfp {tsfp_before}, now {now})"
            ));
        }
        let vouched = self.vouched[srv].get(&ip).copied().unwrap_or(0);
        if tsfp_before > vouched {
            return Err(format!(
                "(b) {who} relied on tsfp {tsfp_before} for {ip}, but the partner never acked or sent more than {vouched}"
            ));
        }
        Ok(())
    }

    /// May server `i` come back without its lease file?
    pub fn may_lose_disk(&self, i: usize) -> bool {
        !self.needs_resync[1 - i] && !self.been_partner_down[i] && !self.unsynced_at_crash[i]
    }

    pub fn lost_disk(&mut self, i: usize) {
        self.needs_resync[i] = true;
        // What the partner vouched for is still true; what we knew is gone, which is fine.
        // The ACKs this server gave before are no longer its lease file's to keep: they come
        // back from the partner (RECOVER), which (a) and (d) check. A later restart *with*
        // the (new) file owes only the ACKs given after this.
        for slot in self.last_ack.iter_mut().filter(|s| s.is_some_and(|(srv, _, _)| srv == i)) {
            *slot = None;
        }
    }
}

impl Sim {
    /// Runs after every step.
    pub(super) fn check(&mut self) -> Result<(), String> {
        if let Some(f) = self.chk.failure.take() {
            return Err(f);
        }
        for i in 0..2 {
            let Some(n) = self.nodes[i].as_ref() else { continue };
            match n.peer().state() {
                State::NORMAL => self.chk.needs_resync[i] = false,
                State::PARTNER_DOWN => self.chk.been_partner_down[i] = true,
                _ => {}
            }
        }
        let talking = |n: &Option<dhcp_user::failover::node::Node>| {
            n.as_ref().is_some_and(|n| n.peer().communicating() && n.peer().state() != State::STARTUP)
        };
        if self.chk.guard.iter().any(|g| *g) && talking(&self.nodes[0]) && talking(&self.nodes[1]) {
            self.chk.guard = [false; 2];
        }
        self.check_no_double_binding()?;
        match self.stage {
            Stage::Faults | Stage::Done => {}
            Stage::Healing { deadline } => {
                let normal = |n: &Option<dhcp_user::failover::node::Node>| {
                    n.as_ref().is_some_and(|n| n.peer().state() == State::NORMAL && n.peer().communicating())
                };
                if normal(&self.nodes[0]) && normal(&self.nodes[1]) {
                    self.line(What::Stage("both NORMAL: clients stop"));
                    for c in &mut self.clients {
                        c.stopped = true;
                    }
                    self.stage = Stage::Quiesce { deadline: self.now + super::QUIESCE_BOUND_MS };
                } else if self.now > deadline {
                    return Err(format!(
                        "(d) liveness: not both NORMAL {} s after the faults stopped: {}",
                        super::LIVENESS_BOUND_MS / SEC,
                        self.states()
                    ));
                }
            }
            Stage::Quiesce { deadline } => {
                if self.quiescent() {
                    self.compare_stores()?;
                    for i in 0..2 {
                        self.check_file_follows_memory(i)?;
                    }
                    self.line(What::Stage("stores agree"));
                    self.stage = Stage::Done;
                } else if self.now > deadline {
                    return Err(format!(
                        "(d) liveness: updates still outstanding {} s after both were NORMAL and clients stopped: {}",
                        super::QUIESCE_BOUND_MS / SEC,
                        self.states()
                    ));
                }
            }
        }
        Ok(())
    }

    fn states(&self) -> String {
        let mut s = Vec::new();
        for i in 0..2 {
            s.push(match self.nodes[i].as_ref() {
                None => format!("{} down", super::who(i)),
                Some(n) => {
                    let p = n.peer();
                    format!(
                        "{} {} (partner {}, link {}, queued {}, unacked {}, owed {})",
                        super::who(i),
                        p.state(),
                        p.partner_state(),
                        if p.communicating() { "up" } else { "down" },
                        p.queued(),
                        p.unacked(),
                        p.acks_owed()
                    )
                }
            });
        }
        s.join("; ")
    }

    /// (a), judged from the clients.
    fn check_no_double_binding(&self) -> Result<(), String> {
        let mut by_ip: BTreeMap<Ipv4Addr, usize> = BTreeMap::new();
        for c in &self.clients {
            let Some(h) = &c.held else { continue };
            if h.until <= self.now {
                continue;
            }
            if let Some(other) = by_ip.insert(h.ip, c.idx) {
                let o = self.clients.get(other).and_then(|c| c.held.clone());
                return Err(format!(
                    "(a) {} is bound to two clients at once: c{} (from {}, until {} ms) and c{} ({:?})",
                    h.ip, c.idx, h.server, h.until, other, o
                ));
            }
        }
        Ok(())
    }

    /// (c): server `i` just restarted from its lease file.
    pub(super) fn check_durability(&self, i: usize) -> Result<(), String> {
        let Some(n) = self.nodes[i].as_ref() else { return Ok(()) };
        let now = self.time(i).unix;
        for c in &self.clients {
            let Some(h) = &c.held else { continue };
            let Some(Some((srv, ip, ends))) = self.chk.last_ack.get(c.idx) else { continue };
            if *srv != i || h.ip != *ip || h.until <= self.now || *ends <= now {
                continue;
            }
            let l = n.engine().store().get(*ip);
            let ok = l.as_ref().is_some_and(|l| {
                l.state == BindingState::Active && l.client.as_ref() == Some(&c.key()) && l.ends >= *ends
            });
            if !ok {
                return Err(format!(
                    "(c) {} restarted with its lease file but lost c{}'s ACKed lease of {ip} (ends {ends}): store has {:?}",
                    super::who(i),
                    c.idx,
                    l.map(|l| (l.state, l.client, l.ends))
                ));
            }
        }
        Ok(())
    }

    fn quiescent(&self) -> bool {
        if self.link.in_flight > 0 {
            return false;
        }
        // A binding past its end on either server's clock is still in transition: the
        // primary expires it at its next sweep in *its* clock and the secondary follows its
        // update, so with skewed clocks the stores legitimately differ until the slower clock
        // has passed the end. Wait for that (bounded by QUIESCE_BOUND_MS like the rest).
        let latest = (0..2).map(|i| self.time(i).unix).max().unwrap_or(0);
        let in_transition = self.nodes.iter().flatten().any(|n| n.engine().store().any_due(latest));
        if in_transition {
            return false;
        }
        if self.queue.values().any(|e| {
            matches!(e, super::Ev::ToServer { .. } | super::Ev::ToClient { .. } | super::Ev::WorkerCommit { .. })
        }) {
            return false;
        }
        self.nodes.iter().all(|n| {
            n.as_ref().is_some_and(|n| {
                let p = n.peer();
                p.state() == State::NORMAL
                    && p.queued() == 0
                    && p.unacked() == 0
                    && p.acks_owed() == 0
                    // Changes whose write failed are replicated once a write succeeds.
                    && n.writes_settled()
            })
        })
    }

    /// (e): server `i`'s lease file (all of it, synced or not) against its store.
    pub(super) fn check_file_follows_memory(&self, i: usize) -> Result<(), String> {
        let Some(n) = self.nodes[i].as_ref() else { return Ok(()) };
        // Bound by a worker that has not handed them over yet: not in the file by design.
        let life = self.life[i];
        let pending: std::collections::BTreeSet<Ipv4Addr> = self
            .queue
            .values()
            .filter_map(|e| match e {
                super::Ev::WorkerCommit { srv, life: l, commit, .. } if *srv == i && *l == life => Some(commit),
                _ => None,
            })
            .flat_map(|c| c.leases().iter().map(|l| l.ip))
            .collect();
        let file = n.disk().leases();
        let bound = |s: BindingState| matches!(s, BindingState::Active | BindingState::Bootp);
        let mut diffs = Vec::new();
        for mem in n.engine().store().snapshot() {
            if pending.contains(&mem.ip) {
                continue;
            }
            let on_disk = file.get(&mem.ip);
            if !bound(mem.state) && !on_disk.is_some_and(|f| bound(f.state)) {
                continue;
            }
            let same = on_disk.is_some_and(|f| f.state == mem.state && f.client == mem.client && f.ends == mem.ends);
            if !same {
                diffs.push(format!(
                    "{}: memory {} {:?} ends {} | file {:?}",
                    mem.ip,
                    mem.state.name(),
                    mem.client,
                    mem.ends,
                    on_disk.map(|f| (f.state.name(), f.client.clone(), f.ends))
                ));
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "(e) {}'s lease file is behind its memory (a restart would bring these back):\n    {}",
                super::who(i),
                diffs.join("\n    ")
            ))
        }
    }

    /// (d): both stores agree.
    fn compare_stores(&self) -> Result<(), String> {
        let (Some(a), Some(b)) = (self.nodes[0].as_ref(), self.nodes[1].as_ref()) else {
            return Err("(d) a server is down at the end".into());
        };
        // Every address: which ones have a record differs between two servers that agree.
        let sa = a.engine().store().all();
        let sb = b.engine().store().all();
        let mut diffs = Vec::new();
        for (x, y) in sa.iter().zip(sb.iter()) {
            let bound = |s: BindingState| matches!(s, BindingState::Active | BindingState::Bootp);
            let same = x.ip == y.ip && x.state == y.state && (!bound(x.state) || x.client == y.client);
            if !same {
                diffs.push(format!(
                    "{}: P {} {:?} ends {} tstp {} | S {} {:?} ends {} tstp {}",
                    x.ip,
                    x.state.name(),
                    x.client,
                    x.ends,
                    x.tstp,
                    y.state.name(),
                    y.client,
                    y.ends,
                    y.tstp
                ));
            }
        }
        if sa.len() != sb.len() {
            diffs.push(format!("store sizes differ: {} vs {}", sa.len(), sb.len()));
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(format!("(d) the stores disagree after quiescence:\n    {}", diffs.join("\n    ")))
        }
    }
}
