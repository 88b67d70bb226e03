//! The lease store shared by all workers: no global lock on the hot path.
//!
//! - `ranges`: the configured ranges, each address belonging to one pool. An address that
//!   has never been touched (FREE, never offered, never bound, never moved) has no record:
//!   the range implies it, so a pool of a million addresses costs a few bytes per range, and
//!   memory follows the leases, not the pool (issue 14).
//! - `leases`: a record for every address that has one (it was offered, bound, restored from
//!   the lease file or the partner, moved by pool balancing), sharded by dashmap (a lock per
//!   shard, held for the few instructions of one update). A record, once made, stays.
//! - `by_client`: hash of the client key → address, for "same client, same address". Only a
//!   64-bit hash is kept (no second copy of the key per lease); a lookup verifies the lease's
//!   own key, so a hash collision can only cost a client its affinity, never mix two up.
//! - per pool, a cursor over its never-touched addresses, in range order: new clients get
//!   those first, claimed with a compare-and-swap, so the pool is never walked;
//! - one lock-free FIFO of candidate free addresses with a record per pool (crossbeam
//!   `SegQueue`), drawn from once the cursor has passed the end of the pool. An
//!   address may sit in a queue while no longer free (it was requested by address, or bound
//!   after a restore): the claim re-checks under the lease's shard lock and skips it. FIFO
//!   order hands out the address freed longest ago, which keeps recently expired addresses
//!   for their previous owners.
//! - per pool, counts of leases by state, kept as every change is made (status, metrics and
//!   the 5 s "does the partner have free leases" check read them without walking the pool);
//! - an expiry index: (end, address) of every ACTIVE lease in min-heaps sharded by address,
//!   so the expiry sweep costs what is due, not the size of the pools. An entry whose lease
//!   was renewed or ended meanwhile is dropped when it comes up.

use super::{BindingState, ClientKey, Lease, Offer};
use crate::time::{NEVER, UnixSecs};
use arc_swap::ArcSwap;
use crossbeam::queue::SegQueue;
use dashmap::DashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A pool's candidate free addresses: [FREE-class queue, BACKUP queue] of addresses with a
/// record, and the cursor over its never-touched ones (an index into [`PoolSpans`]).
#[derive(Default)]
struct FreeQueues {
    queues: [SegQueue<Ipv4Addr>; 2],
    fresh: AtomicU64,
}

/// A pool's lease counts by [`PoolCounts`] class: free, backup, active, abandoned, other;
/// then [`EXACTLY_FREE`].
type Tally = [AtomicU64; 6];

/// Index in a [`Tally`] of the leases in state FREE itself (pool balancing moves only those,
/// and reads the count to see whether it has anything to do without walking the pool).
const EXACTLY_FREE: usize = 5;

/// The configured ranges. Never shrinks (a reload only adds ranges and pools).
#[derive(Clone, Default)]
struct Ranges {
    /// Disjoint spans (first, last, pool), sorted by first address: the pool of an address.
    spans: Vec<(u32, u32, PoolId)>,
    /// Per pool, its spans in the order they were added (the never-touched cursor's order).
    pools: Vec<PoolSpans>,
}

#[derive(Clone, Default)]
struct PoolSpans {
    spans: Vec<(u32, u32)>,
    /// `ends[i]`: addresses in `spans[..=i]`.
    ends: Vec<u64>,
}

impl PoolSpans {
    fn total(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// The `k`-th address of the pool, in range order.
    fn nth(&self, k: u64) -> Option<Ipv4Addr> {
        let i = self.ends.partition_point(|&e| e <= k);
        let (first, _) = *self.spans.get(i)?;
        let before = if i == 0 { 0 } else { self.ends[i - 1] };
        u32::try_from(k - before).ok().and_then(|off| first.checked_add(off)).map(Ipv4Addr::from)
    }

    fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.spans.iter().flat_map(|&(a, b)| (a..=b).map(Ipv4Addr::from))
    }
}

impl Ranges {
    fn pool_of(&self, ip: Ipv4Addr) -> Option<PoolId> {
        let n = u32::from(ip);
        let i = self.spans.partition_point(|&(first, ..)| first <= n).checked_sub(1)?;
        let (_, last, pool) = self.spans[i];
        (n <= last).then_some(pool)
    }

    /// Add the addresses of `a..=b` no range holds yet to `pool`; returns how many.
    fn add(&mut self, pool: PoolId, a: u32, b: u32) -> u64 {
        // The parts of a..=b between the spans that overlap it.
        let mut pieces = Vec::new();
        let mut next = Some(a);
        let start = self.spans.partition_point(|&(_, last, _)| last < a);
        for &(first, last, _) in self.spans[start..].iter().take_while(|&&(first, ..)| first <= b) {
            if let Some(n) = next
                && n < first
            {
                pieces.push((n, first - 1));
            }
            next = last.checked_add(1).filter(|&n| n <= b);
        }
        if let Some(n) = next
            && n <= b
        {
            pieces.push((n, b));
        }
        let mut added = 0;
        let p = pool as usize;
        if self.pools.len() <= p {
            self.pools.resize_with(p + 1, PoolSpans::default);
        }
        for &(x, y) in &pieces {
            let i = self.spans.partition_point(|&(first, ..)| first < x);
            self.spans.insert(i, (x, y, pool));
            let n = u64::from(y - x) + 1;
            let ps = &mut self.pools[p];
            let total = ps.total();
            ps.spans.push((x, y));
            ps.ends.push(total + n);
            added += n;
        }
        added
    }
}

/// Shards of the expiry index (by address): workers binding at once rarely meet on a lock.
const EXPIRY_SHARDS: usize = 16;

/// (end, address) of ACTIVE leases, earliest first.
type ExpiryHeap = BinaryHeap<Reverse<(UnixSecs, u32)>>;

/// The [`PoolCounts`] class of a state (index into a [`Tally`]).
fn class_of(s: BindingState) -> usize {
    match s {
        BindingState::Free | BindingState::Expired | BindingState::Released => 0,
        BindingState::Backup => 1,
        BindingState::Active | BindingState::Bootp => 2,
        BindingState::Abandoned => 3,
        BindingState::Reset | BindingState::Reserved => 4,
    }
}

/// Index of a pool in the engine configuration.
pub type PoolId = u32;

/// Which free-state leases this server may hand to a new client.
///
/// In a failover pool FREE leases are the primary's to allocate and BACKUP leases the
/// secondary's (EXPIRED and RELEASED belong with FREE); a server in PARTNER-DOWN may take both
/// once the MCLT has passed. A standalone pool allows every free state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    Any,
    Free,
    Backup,
    /// PARTNER-DOWN past the MCLT. An EXPIRED or RELEASED lease is still only reused once
    /// `max(tstp, tsfp) + mclt` has passed: the partner may have extended it, while out of
    /// contact, up to MCLT beyond the potential expiry it last had from us (what we sent,
    /// `tstp`, or acked, `tsfp`), and an ack of its expiry from a partner that lost its lease
    /// file vouches for nothing (the simulation showed all three).
    Both {
        mclt: u32,
        /// The partner's free state (FREE for a secondary, BACKUP for a primary): such a
        /// lease is taken only once `tsfp + mclt` has passed too (dhcpd's gate, digest §2.4):
        /// the partner may have granted it up to MCLT beyond the potential expiry we last
        /// acknowledged, while out of contact (the simulation showed the double binding).
        partner_free: BindingState,
    },
}

impl Take {
    pub fn allows(self, l: &Lease, now: UnixSecs) -> bool {
        let s = l.state;
        match self {
            Take::Any => s.is_available(),
            Take::Both { mclt, partner_free } => match s {
                BindingState::Expired | BindingState::Released => now >= l.tstp.max(l.tsfp).saturating_add(mclt),
                s if s == partner_free => now >= l.tsfp.saturating_add(mclt),
                _ => s.is_available(),
            },
            // EXPIRED and RELEASED leases stay untouchable until the partner acknowledges them
            // (they then become FREE): the partner may have renewed the client meanwhile
            // (dhcpd's lease_mine_to_reallocate). Only PARTNER-DOWN past the MCLT (`Both`)
            // may reuse them unacknowledged.
            Take::Free => s == BindingState::Free,
            Take::Backup => s == BindingState::Backup,
        }
    }

    /// Free queues to draw from: 0 = FREE/EXPIRED/RELEASED, 1 = BACKUP.
    fn queues(self) -> &'static [usize] {
        match self {
            Take::Any | Take::Both { .. } => &[0, 1],
            Take::Free => &[0],
            Take::Backup => &[1],
        }
    }
}

fn queue_of(s: BindingState) -> usize {
    usize::from(s == BindingState::Backup)
}

/// A deterministic 64-bit hash of a client key (SipHash with fixed keys).
fn key_hash(k: &ClientKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

/// `Lease::queued` bit for free queue `q`.
fn queue_bit(q: usize) -> u8 {
    1 << q
}

/// A fixed-key hasher: the store's iteration order (expiry sweeps, counts) is then the same
/// in every process, which the deterministic simulation relies on. Keys are addresses from
/// the configuration and 64-bit key hashes, not attacker-chosen strings.
type Fixed = std::hash::BuildHasherDefault<std::hash::DefaultHasher>;

pub struct LeaseStore {
    /// Boxed: the table then holds 16 bytes per entry, and its slack (a hash table grows
    /// by doubling, so it is 50–87% full) costs that, not a whole lease (issue 14).
    leases: DashMap<Ipv4Addr, Box<Lease>, Fixed>,
    by_client: DashMap<u64, Ipv4Addr, Fixed>,
    /// The configured ranges (swapped when a reload adds one).
    ranges: ArcSwap<Ranges>,
    /// Per pool: [FREE-class queue, BACKUP queue] and the never-touched cursor. Swapped
    /// (never shrunk) when a reload adds pools, so allocation reads it without a lock.
    free: ArcSwap<Vec<Arc<FreeQueues>>>,
    /// Per pool: counts by state class, changed with every lease change (same growth rule
    /// as `free`).
    tallies: ArcSwap<Vec<Arc<Tally>>>,
    expiry: [Mutex<ExpiryHeap>; EXPIRY_SHARDS],
}

impl LeaseStore {
    pub fn new(pools: usize) -> LeaseStore {
        LeaseStore {
            leases: DashMap::with_hasher(Fixed::default()),
            by_client: DashMap::with_hasher(Fixed::default()),
            ranges: ArcSwap::from_pointee(Ranges::default()),
            free: ArcSwap::from_pointee((0..pools).map(|_| Arc::new(FreeQueues::default())).collect()),
            tallies: ArcSwap::from_pointee((0..pools).map(|_| Arc::new(Tally::default())).collect()),
            expiry: std::array::from_fn(|_| Mutex::new(BinaryHeap::new())),
        }
    }

    /// Book a lease's change of state (under its shard lock, so counts never go negative)
    /// and index its end when it is bound with a new one.
    fn changed(&self, pool: PoolId, ip: Ipv4Addr, old: Option<(BindingState, UnixSecs)>, new: &Lease) {
        let tallies = self.tallies.load();
        if let Some(t) = tallies.get(pool as usize) {
            let exactly_free = |s: BindingState| s == BindingState::Free;
            match old {
                Some((from, _)) if exactly_free(from) && !exactly_free(new.state) => {
                    t[EXACTLY_FREE].fetch_sub(1, Ordering::Relaxed);
                }
                Some((from, _)) if !exactly_free(from) && exactly_free(new.state) => {
                    t[EXACTLY_FREE].fetch_add(1, Ordering::Relaxed);
                }
                None if exactly_free(new.state) => {
                    t[EXACTLY_FREE].fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            let to = class_of(new.state);
            match old {
                Some((from, _)) if class_of(from) == to => {}
                Some((from, _)) => {
                    t[class_of(from)].fetch_sub(1, Ordering::Relaxed);
                    t[to].fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    t[to].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let newly_due = new.state == BindingState::Active
            && new.ends != NEVER
            && old.is_none_or(|(s, ends)| s != BindingState::Active || ends != new.ends);
        if newly_due {
            self.index_expiry(ip, new.ends);
        }
    }

    fn index_expiry(&self, ip: Ipv4Addr, ends: UnixSecs) {
        let n = u32::from(ip);
        if let Ok(mut heap) = self.expiry[n as usize % EXPIRY_SHARDS].lock() {
            heap.push(Reverse((ends, n)));
        }
    }

    /// Look at `ip` again at the next sweep (it was due, and the sweep left it bound).
    pub fn requeue_expiry(&self, ip: Ipv4Addr) {
        if let Some(l) = self.get(ip)
            && l.state == BindingState::Active
            && l.ends != NEVER
        {
            self.index_expiry(ip, l.ends);
        }
    }

    /// Make room for pools `0..pools` (a reload added pools); existing queues are kept.
    pub fn ensure_pools(&self, pools: usize) {
        if self.free.load().len() >= pools && self.tallies.load().len() >= pools {
            return;
        }
        self.free.rcu(|cur| {
            let mut v: Vec<Arc<FreeQueues>> = cur.as_ref().clone();
            while v.len() < pools {
                v.push(Arc::new(FreeQueues::default()));
            }
            v
        });
        self.tallies.rcu(|cur| {
            let mut v: Vec<Arc<Tally>> = cur.as_ref().clone();
            while v.len() < pools {
                v.push(Arc::new(Tally::default()));
            }
            v
        });
    }

    /// Addresses in all pools (with a record or not).
    pub fn len(&self) -> usize {
        self.ranges.load().pools.iter().map(|p| p.total() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Addresses with a record (the rest of the pools is FREE and never touched).
    pub fn records(&self) -> usize {
        self.leases.len()
    }

    /// Add every address of `start..=end` to `pool` as free (addresses a range holds already
    /// stay where they are). Costs the number of ranges, not of addresses: the new addresses
    /// get no record until they are touched.
    pub fn add_range(&self, pool: PoolId, start: Ipv4Addr, end: Ipv4Addr) {
        let (a, b) = (u32::from(start), u32::from(end));
        if a > b {
            return;
        }
        self.ensure_pools(pool as usize + 1);
        let mut added = 0;
        self.ranges.rcu(|cur| {
            let mut r = Ranges::clone(cur);
            added = r.add(pool, a, b);
            r
        });
        // An address restored or replicated before its range existed cannot have a record
        // (restore refuses addresses outside every range), so every added address is FREE.
        if let Some(t) = self.tallies.load().get(pool as usize) {
            t[0].fetch_add(added, Ordering::Relaxed);
            t[EXACTLY_FREE].fetch_add(added, Ordering::Relaxed);
        }
    }

    /// The record of `ip`, made (FREE, never touched) if it has none and a range holds it;
    /// `true` with it when it was made here: the caller then queues it as a free candidate
    /// once the lock is released ([`made`](Self::made)), since the never-touched cursor will
    /// now pass it by.
    fn slot(&self, ip: Ipv4Addr) -> Option<(dashmap::mapref::one::RefMut<'_, Ipv4Addr, Box<Lease>>, bool)> {
        if let Some(l) = self.leases.get_mut(&ip) {
            return Some((l, false));
        }
        let pool = self.ranges.load().pool_of(ip)?;
        let mut made = false;
        let l = self.leases.entry(ip).or_insert_with(|| {
            made = true;
            Box::new(Lease::free(ip, pool))
        });
        Some((l, made))
    }

    /// A record was made by [`slot`](Self::slot): queue it if it is still free.
    fn made(&self, made: bool, pool: PoolId, ip: Ipv4Addr) {
        if made {
            self.push_free(pool, ip);
        }
    }

    /// Queue `ip` as a free candidate unless it is queued already. Callers hold no lock on it.
    fn push_free(&self, pool: PoolId, ip: Ipv4Addr) {
        let queue = match self.leases.get_mut(&ip) {
            Some(mut l) if l.state.is_available() && l.queued & queue_bit(queue_of(l.state)) == 0 => {
                let q = queue_of(l.state);
                l.queued |= queue_bit(q);
                Some(q)
            }
            _ => None,
        };
        let free = self.free.load();
        if let Some(q) = queue.and_then(|i| free.get(pool as usize).and_then(|qs| qs.queues.get(i))) {
            q.push(ip);
        }
    }

    /// Replace a lease with a restored or replicated record (lease file, partner). Addresses
    /// outside every pool are ignored (returns false): config changed since the record.
    pub fn restore(&self, mut lease: Lease) -> bool {
        let ip = lease.ip;
        let new_hash = lease.client.as_ref().map(key_hash);
        lease.offer = None;
        let (old_hash, pool, available) = match self.leases.entry(ip) {
            dashmap::mapref::entry::Entry::Occupied(mut slot) => {
                let slot = slot.get_mut();
                lease.pool = slot.pool;
                lease.queued = slot.queued;
                let old_hash = slot.client.as_ref().map(key_hash);
                let (pool, available) = (lease.pool, lease.state.is_available());
                self.changed(pool, ip, Some((slot.state, slot.ends)), &lease);
                **slot = lease;
                (old_hash, pool, available)
            }
            // A never-touched address (most of a large file at start-up): it was free and
            // unqueued, and the record goes in as is (one lookup, no placeholder lease).
            dashmap::mapref::entry::Entry::Vacant(slot) => {
                let Some(pool) = self.ranges.load().pool_of(ip) else {
                    return false;
                };
                lease.pool = pool;
                lease.queued = 0;
                let available = lease.state.is_available();
                self.changed(pool, ip, Some((BindingState::Free, 0)), &lease);
                slot.insert(Box::new(lease));
                (None, pool, available)
            }
        };
        if old_hash != new_hash
            && let Some(h) = old_hash
        {
            self.by_client.remove_if(&h, |_, v| *v == ip);
        }
        if let Some(h) = new_hash {
            self.by_client.insert(h, ip);
        }
        if available {
            self.push_free(pool, ip);
        }
        true
    }

    fn reindex(&self, ip: Ipv4Addr, old: Option<&ClientKey>, new: Option<&ClientKey>) {
        if old == new {
            if let Some(k) = new {
                self.by_client.insert(key_hash(k), ip);
            }
            return;
        }
        if let Some(k) = old {
            self.by_client.remove_if(&key_hash(k), |_, v| *v == ip);
        }
        if let Some(k) = new {
            self.by_client.insert(key_hash(k), ip);
        }
    }

    /// The bound leases of hardware address `hw` (a scan of every lease: only `deny
    /// duplicates` asks, on a DHCPREQUEST of a client with one-lease-per-client).
    pub fn bound_with_hw(&self, hw: &super::HwAddr) -> Vec<Ipv4Addr> {
        self.leases
            .iter()
            .filter(|l| l.state == BindingState::Active && l.hw.as_ref() == Some(hw))
            .map(|l| l.ip)
            .collect()
    }

    /// The lease of `ip`: its record, or a FREE lease never touched if a range holds it.
    pub fn get(&self, ip: Ipv4Addr) -> Option<Lease> {
        match self.leases.get(&ip) {
            Some(l) => Some(Lease::clone(&l)),
            None => self.ranges.load().pool_of(ip).map(|pool| Lease::free(ip, pool)),
        }
    }

    /// `f` of the record of `ip` as it stands now, under its shard's read lock, if it has one
    /// (unlike [`LeaseStore::get`], no FREE lease is made up for a never-used address, and
    /// nothing is cloned that `f` does not take).
    pub fn read<R>(&self, ip: Ipv4Addr, f: impl FnOnce(&Lease) -> R) -> Option<R> {
        self.leases.get(&ip).map(|l| f(&l))
    }

    /// The lease last associated with `key`, if it still names this client.
    pub fn lookup_client(&self, key: &ClientKey) -> Option<Lease> {
        let ip = *self.by_client.get(&key_hash(key))?;
        let lease = self.get(ip)?;
        (lease.client.as_ref() == Some(key)).then_some(lease)
    }

    /// The address offered to `key` and still held for it, if any: a client that sends its
    /// DISCOVER again before it REQUESTs is offered the same address, as dhcpd does (it keeps
    /// the offered lease under the client's identifiers), not one more held address per
    /// retransmission.
    pub fn lookup_offer(&self, key: &ClientKey, now: UnixSecs) -> Option<Ipv4Addr> {
        let ip = self.by_client.get(&key_hash(key)).map(|e| *e)?;
        let l = self.leases.get(&ip)?;
        l.offer.as_ref().filter(|o| &o.client == key && o.expires > now).map(|_| ip)
    }

    /// Index an offer of `ip` to `key` for [`Self::lookup_offer`], unless the index already
    /// names the client's active lease elsewhere (its binding keeps the affinity; the offer
    /// then lapses on its own). A stale entry costs nothing: lookups verify the lease.
    fn index_offer(&self, key: &ClientKey, ip: Ipv4Addr) {
        let h = key_hash(key);
        let bound_elsewhere = self
            .by_client
            .get(&h)
            .map(|e| *e)
            .filter(|cur| *cur != ip)
            .and_then(|cur| {
                self.leases.get(&cur).map(|l| l.client.as_ref() == Some(key) && l.state == BindingState::Active)
            })
            .unwrap_or(false);
        if !bound_elsewhere {
            self.by_client.insert(h, ip);
        }
    }

    /// Reserve `ip` for `key` as an offer until `expires`, if it is available to this client:
    /// bound to it already, or free and not offered to someone else.
    pub fn try_offer(&self, ip: Ipv4Addr, key: &ClientKey, take: Take, now: UnixSecs, expires: UnixSecs) -> bool {
        let Some((mut l, made)) = self.slot(ip) else {
            return false;
        };
        let ok = available_to(&l, key, take, now);
        if ok {
            l.offer = Some(Box::new(Offer { client: key.clone(), expires }));
        }
        let pool = l.pool;
        drop(l);
        self.made(made, pool, ip);
        if ok {
            self.index_offer(key, ip);
        }
        ok
    }

    /// Take a free address of `pool` for `key` (as an offer until `expires`).
    ///
    /// A claimed address goes back to the tail of the queue: it stays a candidate until it is
    /// bound (then it is discarded when next popped), so an offer that is never taken up
    /// needs no cleanup. Each address is in each queue at most once (`Lease::queued` bits).
    pub fn allocate(
        &self,
        pool: PoolId,
        key: &ClientKey,
        take: Take,
        now: UnixSecs,
        expires: UnixSecs,
    ) -> Option<Ipv4Addr> {
        let free = self.free.load();
        let qs = free.get(pool as usize)?;
        for &qi in take.queues() {
            // Never-touched addresses first (they are FREE: queue 0's state), as the FIFO
            // would have had them ahead of every address freed since the start.
            if qi == 0
                && take.allows(&Lease::free(Ipv4Addr::UNSPECIFIED, pool), now)
                && let Some(ip) = self.claim_fresh(pool, &qs.fresh, key, expires)
            {
                return Some(ip);
            }
            let Some(q) = qs.queues.get(qi) else { continue };
            // One pass over the queue at most: everything left may be offered to others.
            let mut budget = q.len();
            while budget > 0 {
                budget -= 1;
                let Some(ip) = q.pop() else { break };
                let Some(mut l) = self.leases.get_mut(&ip) else { continue };
                l.queued &= !queue_bit(qi);
                // Stale entry (bound, or moved to the other queue's state): drop it here and
                // make sure it sits in the queue its state belongs to.
                if !l.state.is_available() || l.pool != pool || queue_of(l.state) != qi {
                    drop(l);
                    self.push_free(pool, ip);
                    continue;
                }
                let claimed = take.allows(&l, now) && offer_free_for(&l, key, now);
                if claimed {
                    l.offer = Some(Box::new(Offer { client: key.clone(), expires }));
                }
                l.queued |= queue_bit(qi);
                drop(l);
                q.push(ip);
                if claimed {
                    self.index_offer(key, ip);
                    return Some(ip);
                }
            }
        }
        None
    }

    /// The next never-touched address of `pool`, made a record offered to `key`. The caller
    /// has checked that its take allows a never-touched lease (FREE, nothing acknowledged:
    /// only PARTNER-DOWN's MCLT gate can refuse one, and then it refuses them all); no other
    /// client's offer can stand in its way. The address then joins the tail of queue 0 like
    /// any claimed one (a lapsed offer leaves it free).
    fn claim_fresh(&self, pool: PoolId, cursor: &AtomicU64, key: &ClientKey, expires: UnixSecs) -> Option<Ipv4Addr> {
        let ranges = self.ranges.load();
        let spans = ranges.pools.get(pool as usize)?;
        loop {
            let k = cursor.load(Ordering::Acquire);
            if k >= spans.total() {
                return None;
            }
            if cursor.compare_exchange(k, k + 1, Ordering::AcqRel, Ordering::Acquire).is_err() {
                continue;
            }
            let ip = spans.nth(k)?;
            let mut made = false;
            let l = self.leases.entry(ip).or_insert_with(|| {
                made = true;
                let mut l = Lease::free(ip, pool);
                l.offer = Some(Box::new(Offer { client: key.clone(), expires }));
                l.queued = queue_bit(0);
                Box::new(l)
            });
            drop(l);
            if !made {
                // Touched already (requested by address, restored, replicated): it has a
                // record, and every record that is free sits in a queue.
                continue;
            }
            if let Some(q) = self.free.load().get(pool as usize).and_then(|qs| qs.queues.first()) {
                q.push(ip);
            }
            self.index_offer(key, ip);
            return Some(ip);
        }
    }

    /// Pools' addresses, for balancing: (ip, state, starts) of every lease in `pool`, records
    /// and never-touched addresses alike, in address order.
    pub fn pool_leases(&self, pool: PoolId) -> Vec<(Ipv4Addr, BindingState, UnixSecs)> {
        let mut v: Vec<_> = self.leases.iter().filter(|l| l.pool == pool).map(|l| (l.ip, l.state, l.starts)).collect();
        if let Some(spans) = self.ranges.load().pools.get(pool as usize) {
            v.extend(
                spans.addresses().filter(|ip| !self.leases.contains_key(ip)).map(|ip| (ip, BindingState::Free, 0)),
            );
        }
        v.sort_by_key(|(ip, ..)| u32::from(*ip));
        v
    }

    /// FREE and BACKUP leases of `pool` (pool balancing's first look, from the counts).
    pub fn free_and_backup(&self, pool: PoolId) -> (u64, u64) {
        let tallies = self.tallies.load();
        let Some(t) = tallies.get(pool as usize) else { return (0, 0) };
        (t[EXACTLY_FREE].load(Ordering::Relaxed), t[1].load(Ordering::Relaxed))
    }

    /// Drop an outstanding offer of `ip` to `key` (the client chose another server).
    pub fn cancel_offer(&self, ip: Ipv4Addr, key: &ClientKey) {
        let pool = match self.leases.get_mut(&ip) {
            Some(mut l) if l.offer.as_ref().map(|o| &o.client) == Some(key) => {
                l.offer = None;
                l.state.is_available().then_some(l.pool)
            }
            _ => None,
        };
        if let Some(pool) = pool {
            self.push_free(pool, ip);
        }
    }

    /// Apply `f` to the lease of `ip` under its shard lock, then fix the client index and the
    /// free queue. Returns the updated lease.
    pub fn update(&self, ip: Ipv4Addr, f: impl FnOnce(&mut Lease)) -> Option<Lease> {
        let (old_client, lease) = {
            let (mut l, _) = self.slot(ip)?;
            let old = l.client.clone();
            let before = (l.state, l.ends);
            f(&mut l);
            self.changed(l.pool, ip, Some(before), &l);
            (old, Lease::clone(&l))
        };
        if lease.state.is_available() {
            self.push_free(lease.pool, ip);
        }
        self.reindex(ip, old_client.as_ref(), lease.client.as_ref());
        Some(lease)
    }

    /// Decides and changes one lease under its shard lock: `f` sees the lease as it is now
    /// and either changes it (`Ok`) or must leave it untouched (`Err`). `None`: no such
    /// address. A decision taken on a copy and written later can overwrite a change made in
    /// between, such as a worker's bind whose ACK already left.
    pub fn try_update<E>(&self, ip: Ipv4Addr, f: impl FnOnce(&mut Lease) -> Result<(), E>) -> Option<Result<Lease, E>> {
        let (old_client, lease) = {
            let (mut l, made) = self.slot(ip)?;
            let old = l.client.clone();
            let before = (l.state, l.ends);
            if let Err(e) = f(&mut l) {
                let pool = l.pool;
                drop(l);
                self.made(made, pool, ip);
                return Some(Err(e));
            }
            self.changed(l.pool, ip, Some(before), &l);
            (old, Lease::clone(&l))
        };
        if lease.state.is_available() {
            self.push_free(lease.pool, ip);
        }
        self.reindex(ip, old_client.as_ref(), lease.client.as_ref());
        Some(Ok(lease))
    }

    /// Like [`update`](Self::update), but only if the lease is available to `key` (bound to it,
    /// offered to it, or free and not offered to another): the check and the change happen
    /// under the same shard lock, so two workers cannot bind one address to two clients.
    pub fn update_if_available(
        &self,
        ip: Ipv4Addr,
        key: &ClientKey,
        take: Take,
        now: UnixSecs,
        f: impl FnOnce(&mut Lease),
    ) -> Option<Lease> {
        let (old_client, lease, made) = {
            let (mut l, made) = self.slot(ip)?;
            if !available_to(&l, key, take, now) {
                let pool = l.pool;
                drop(l);
                self.made(made, pool, ip);
                return None;
            }
            let old = l.client.clone();
            let before = (l.state, l.ends);
            f(&mut l);
            self.changed(l.pool, ip, Some(before), &l);
            (old, Lease::clone(&l), made)
        };
        self.made(made, lease.pool, ip);
        self.reindex(ip, old_client.as_ref(), lease.client.as_ref());
        Some(lease)
    }

    /// Leases whose binding ended at or before `now`, for the expiry sweep.
    /// Leases whose binding ended at or before `now`, for the expiry sweep (at most `limit`;
    /// the rest stay indexed for the next sweep). Taken out of the index: a lease the sweep
    /// leaves bound goes back with [`requeue_expiry`](Self::requeue_expiry).
    pub fn due_for_expiry(&self, now: UnixSecs, limit: usize) -> Vec<Ipv4Addr> {
        let mut due = Vec::new();
        for shard in &self.expiry {
            // Popped under the index's lock, checked after it is released: a worker changing
            // a lease holds the lease's shard lock and then takes this one, never the reverse.
            let mut popped = Vec::new();
            if let Ok(mut heap) = shard.lock() {
                while due.len() + popped.len() < limit {
                    match heap.peek() {
                        Some(Reverse((ends, _))) if *ends <= now => {}
                        _ => break,
                    }
                    if let Some(Reverse(e)) = heap.pop() {
                        popped.push(e);
                    }
                }
            }
            for (ends, n) in popped {
                let ip = Ipv4Addr::from(n);
                // Renewed (a later entry exists), ended or freed meanwhile: nothing to do.
                let still = self.leases.get(&ip).is_some_and(|l| {
                    l.state == BindingState::Active && l.ends == ends && l.ends != NEVER && l.ends <= now
                });
                if still && !due.contains(&ip) {
                    due.push(ip);
                }
            }
        }
        due
    }

    /// Some bound lease has ended at or before `now` and awaits the expiry sweep. Leaves the
    /// index as it is (the simulator's quiescence check asks this).
    pub fn any_due(&self, now: UnixSecs) -> bool {
        self.expiry.iter().any(|shard| {
            let candidates: Vec<(UnixSecs, u32)> = match shard.lock() {
                Ok(heap) => heap.iter().map(|Reverse(e)| *e).filter(|(ends, _)| *ends <= now).collect(),
                Err(_) => Vec::new(),
            };
            candidates.into_iter().any(|(ends, n)| {
                self.leases.get(&Ipv4Addr::from(n)).is_some_and(|l| l.state == BindingState::Active && l.ends == ends)
            })
        })
    }

    /// Counts by binding state for one pool.
    pub fn pool_counts(&self, pool: PoolId) -> PoolCounts {
        let tallies = self.tallies.load();
        let Some(t) = tallies.get(pool as usize) else { return PoolCounts::default() };
        let n = |i: usize| t[i].load(Ordering::Relaxed);
        let (free, backup, active, abandoned, other) = (n(0), n(1), n(2), n(3), n(4));
        PoolCounts { total: free + backup + active + abandoned + other, free, backup, active, abandoned, other }
    }

    /// Counts of every pool (index: pool id), for status and metrics.
    pub fn counts_by_pool(&self) -> Vec<PoolCounts> {
        (0..self.tallies.load().len() as PoolId).map(|id| self.pool_counts(id)).collect()
    }

    /// Every lease with a record, in address order (compaction, replication, lookups): the
    /// addresses left out are FREE and never touched, implied by the ranges, and carry
    /// nothing a lease file or a partner needs.
    pub fn snapshot(&self) -> Vec<Lease> {
        // Sized first: the map's iterator gives no length, and growing a vector of 100,000
        // leases by doubling copied it over and over (most of a compaction's CPU during a
        // resync, `bench failover --resync-only` under perf).
        let mut v: Vec<Lease> = Vec::with_capacity(self.leases.len());
        v.extend(self.leases.iter().map(|l| Lease::clone(&l)));
        v.sort_by_key(|l| u32::from(l.ip));
        v
    }

    /// Every address of every pool, never-touched ones as FREE leases, in address order (the
    /// `leases` listing, the simulator's comparison of two stores).
    pub fn all(&self) -> Vec<Lease> {
        let mut v = self.snapshot();
        let ranges = self.ranges.load();
        for &(a, b, pool) in &ranges.spans {
            for n in a..=b {
                let ip = Ipv4Addr::from(n);
                if !self.leases.contains_key(&ip) {
                    v.push(Lease::free(ip, pool));
                }
            }
        }
        v.sort_by_key(|l| u32::from(l.ip));
        v
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolCounts {
    pub total: u64,
    pub free: u64,
    pub backup: u64,
    pub active: u64,
    pub abandoned: u64,
    pub other: u64,
}

impl PoolCounts {
    #[cfg(test)]
    fn count(&mut self, s: BindingState) {
        self.total += 1;
        match s {
            BindingState::Free | BindingState::Expired | BindingState::Released => self.free += 1,
            BindingState::Backup => self.backup += 1,
            BindingState::Active | BindingState::Bootp => self.active += 1,
            BindingState::Abandoned => self.abandoned += 1,
            BindingState::Reset | BindingState::Reserved => self.other += 1,
        }
    }
}

/// No live offer to another client.
fn offer_free_for(l: &Lease, key: &ClientKey, now: UnixSecs) -> bool {
    match &l.offer {
        None => true,
        Some(o) => &o.client == key || o.expires <= now,
    }
}

/// `l` may be offered to `key`: it is this client's (bound or not), or available to anyone.
/// `l` may be given to `key`: it is this client's active lease (either server may renew it),
/// or it is in a free state this server may allocate from.
fn available_to(l: &Lease, key: &ClientKey, take: Take, now: UnixSecs) -> bool {
    if !offer_free_for(l, key, now) {
        return false;
    }
    if l.client.as_ref() == Some(key) && l.state == BindingState::Active {
        return true;
    }
    take.allows(l, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> ClientKey {
        ClientKey::from_hw(1, &[0x52, 0x54, 0, 0, 0, n])
    }

    fn scanned_counts(s: &LeaseStore, pool: PoolId) -> PoolCounts {
        let mut c = PoolCounts::default();
        for l in s.all().iter().filter(|l| l.pool == pool) {
            c.count(l.state);
        }
        c
    }

    /// The counts kept as leases change equal a walk over the pool, through every kind of
    /// change (ranges, restores, updates, refused updates, binds).
    #[test]
    fn kept_counts_equal_a_walk_over_the_pool() {
        let s = LeaseStore::new(2);
        s.add_range(0, Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 40));
        s.add_range(1, Ipv4Addr::new(198, 18, 1, 10), Ipv4Addr::new(198, 18, 1, 14));
        s.add_range(0, Ipv4Addr::new(198, 18, 0, 30), Ipv4Addr::new(198, 18, 0, 50));
        let ip = |n: u8| Ipv4Addr::new(198, 18, 0, n);
        s.update(ip(10), |l| l.state = BindingState::Active);
        s.update(ip(11), |l| l.state = BindingState::Backup);
        s.update(ip(11), |l| l.state = BindingState::Backup);
        let _ = s.try_update(ip(12), |_| Err::<(), ()>(()));
        let _ = s.try_update(ip(13), |l| {
            l.state = BindingState::Abandoned;
            Ok::<(), ()>(())
        });
        let mut r = Lease::free(ip(14), 0);
        r.state = BindingState::Reserved;
        s.restore(r);
        s.update_if_available(ip(15), &key(1), Take::Any, 0, |l| l.state = BindingState::Active);
        s.update(ip(10), |l| l.state = BindingState::Expired);
        s.ensure_pools(3);
        for pool in 0..3 {
            assert_eq!(s.pool_counts(pool), scanned_counts(&s, pool), "pool {pool}");
        }
        assert_eq!(s.counts_by_pool().len(), 3);
    }

    /// The expiry index yields what is due, once, and drops what was renewed or ended.
    #[test]
    fn the_expiry_index_finds_what_is_due_and_skips_renewed_leases() {
        let s = LeaseStore::new(1);
        s.add_range(0, Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 19));
        let ip = |n: u8| Ipv4Addr::new(198, 18, 0, n);
        let bind = |n: u8, ends: u32| {
            s.update(ip(n), |l| {
                l.state = BindingState::Active;
                l.ends = ends;
            });
        };
        bind(10, 100);
        bind(11, 200);
        bind(12, 100);
        bind(12, 300); // renewed: its first entry is stale
        bind(13, 50);
        s.update(ip(13), |l| l.state = BindingState::Released); // ended before its time
        assert!(s.due_for_expiry(99, 10).is_empty());
        assert_eq!(s.due_for_expiry(150, 10), vec![ip(10)]);
        // Taken out: not again unless requeued (the sweep left it bound).
        assert!(s.due_for_expiry(150, 10).is_empty());
        s.requeue_expiry(ip(10));
        assert_eq!(s.due_for_expiry(150, 10), vec![ip(10)]);
        let mut later = s.due_for_expiry(1_000, 1);
        later.extend(s.due_for_expiry(1_000, 10));
        later.sort();
        assert_eq!(later, vec![ip(11), ip(12)], "the limit leaves the rest for the next sweep");
        // Restored leases are indexed too.
        let mut r = Lease::free(ip(14), 0);
        r.state = BindingState::Active;
        r.ends = 500;
        s.restore(r);
        assert_eq!(s.due_for_expiry(500, 10), vec![ip(14)]);
    }

    /// A pool costs its ranges, not its addresses: a million free addresses make no record,
    /// and records appear only for what is touched; the counts and `all` still see every
    /// address.
    #[test]
    fn never_touched_addresses_have_no_record() {
        let s = LeaseStore::new(1);
        let first = Ipv4Addr::new(198, 18, 0, 0);
        s.add_range(0, first, Ipv4Addr::from(u32::from(first) + 999_999));
        assert_eq!((s.len(), s.records()), (1_000_000, 0));
        assert_eq!(s.pool_counts(0).free, 1_000_000);
        assert_eq!(s.get(first).map(|l| l.state), Some(BindingState::Free), "implied by the range");
        assert_eq!(s.get(Ipv4Addr::new(198, 17, 255, 255)), None);
        let a = s.allocate(0, &key(1), Take::Any, 0, 30).expect("an address");
        assert_eq!(a, first, "range order");
        assert_eq!(s.records(), 1);
        assert!(s.snapshot().iter().all(|l| l.ip == a), "only the touched address has a record");
        s.update(a, |l| l.state = BindingState::Active);
        assert_eq!(
            s.pool_counts(0),
            PoolCounts { total: 1_000_000, free: 999_999, active: 1, ..PoolCounts::default() }
        );
    }

    /// Overlapping ranges: an address stays in the pool that had it first, each is counted
    /// once, and the cursor hands out each address of a pool once.
    #[test]
    fn overlapping_ranges_add_only_what_is_new() {
        let s = LeaseStore::new(2);
        let ip = |n: u8| Ipv4Addr::new(198, 18, 0, n);
        s.add_range(0, ip(10), ip(19));
        s.add_range(1, ip(5), ip(24)); // 5..=9 and 20..=24 are new
        s.add_range(0, ip(15), ip(30)); // 25..=30 are new
        s.add_range(1, ip(40), ip(39)); // empty
        assert_eq!((s.pool_counts(0).total, s.pool_counts(1).total, s.len()), (16, 10, 26));
        assert_eq!(s.get(ip(7)).map(|l| l.pool), Some(1));
        assert_eq!(s.get(ip(12)).map(|l| l.pool), Some(0));
        assert_eq!(s.get(ip(27)).map(|l| l.pool), Some(0));
        let mut got: Vec<Ipv4Addr> = (0..20u8).filter_map(|n| s.allocate(1, &key(n), Take::Any, 0, 30)).collect();
        got.sort();
        let mut want: Vec<Ipv4Addr> = (5..=9).chain(20..=24).map(ip).collect();
        want.sort();
        assert_eq!(got, want);
        let all = s.all();
        assert_eq!(all.len(), 26);
        assert!(all.windows(2).all(|w| u32::from(w[0].ip) < u32::from(w[1].ip)));
    }

    /// An address touched outside the cursor (offered by request, a refused update) is not
    /// lost to allocation: its record joins the free queue, and the cursor passes it by.
    #[test]
    fn an_address_touched_before_the_cursor_stays_allocatable() {
        let s = LeaseStore::new(1);
        let ip = |n: u8| Ipv4Addr::new(198, 18, 0, n);
        s.add_range(0, ip(10), ip(13));
        assert!(s.try_offer(ip(12), &key(1), Take::Any, 0, 30));
        let _ = s.try_update(ip(13), |_| Err::<(), ()>(()));
        let mut got: Vec<Ipv4Addr> = (2..8u8).filter_map(|n| s.allocate(0, &key(n), Take::Any, 0, 30)).collect();
        got.sort();
        assert_eq!(got, vec![ip(10), ip(11), ip(13)], "12 is offered to client 1 until 30");
        let mut later: Vec<Ipv4Addr> = (20..26u8).filter_map(|n| s.allocate(0, &key(n), Take::Any, 31, 60)).collect();
        later.sort();
        assert_eq!(later, vec![ip(10), ip(11), ip(12), ip(13)], "every offer lapsed at 30");
    }

    /// A secondary (BACKUP only) never draws never-touched addresses (they are FREE, the
    /// primary's); pool balancing sees them as FREE leases with no history.
    #[test]
    fn never_touched_addresses_are_free_for_balancing_and_not_for_a_secondary() {
        let s = LeaseStore::new(1);
        let ip = |n: u8| Ipv4Addr::new(198, 18, 0, n);
        s.add_range(0, ip(10), ip(19));
        assert_eq!(s.allocate(0, &key(1), Take::Backup, 0, 30), None);
        s.update(ip(11), |l| {
            l.state = BindingState::Backup;
            l.starts = 5;
        });
        assert_eq!(s.free_and_backup(0), (9, 1));
        let pl = s.pool_leases(0);
        assert_eq!(pl.len(), 10);
        assert!(pl.contains(&(ip(10), BindingState::Free, 0)) && pl.contains(&(ip(11), BindingState::Backup, 5)));
        assert_eq!(s.allocate(0, &key(1), Take::Backup, 0, 30), Some(ip(11)));
        // A secondary in PARTNER-DOWN takes the primary's FREE leases, untouched ones too,
        // only once `tsfp + mclt` has passed (tsfp 0 for an untouched address).
        let down = Take::Both { mclt: 100, partner_free: BindingState::Free };
        assert_eq!(s.allocate(0, &key(2), down, 99, 130), Some(ip(11)), "its own BACKUP lease, its offer lapsed");
        assert_eq!(s.allocate(0, &key(3), down, 99, 130), None);
        assert_eq!(s.allocate(0, &key(3), down, 100, 130), Some(ip(10)));
    }

    #[test]
    fn allocates_each_address_once() {
        let s = LeaseStore::new(1);
        s.add_range(0, Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 12));
        let a = s.allocate(0, &key(1), Take::Any, 0, 30).expect("first");
        let b = s.allocate(0, &key(2), Take::Any, 0, 30).expect("second");
        let c = s.allocate(0, &key(3), Take::Any, 0, 30).expect("third");
        assert!(a != b && b != c && a != c);
        assert_eq!(s.allocate(0, &key(4), Take::Any, 0, 30), None);
        // Offers expire: at t=31 the addresses can be offered again.
        assert!(s.allocate(0, &key(4), Take::Any, 31, 60).is_some());
    }

    /// Simulation seed 15276: in PARTNER-DOWN a secondary took the primary's FREE lease whose
    /// acknowledged potential expiry (tsfp) was still ahead, while the primary, out of
    /// contact, had granted it up to tsfp + MCLT. dhcpd's gate: `tsfp + mclt` must have passed.
    #[test]
    fn partner_down_takes_a_partner_free_lease_only_after_tsfp_plus_mclt() {
        let s = LeaseStore::new(1);
        let ip = Ipv4Addr::new(198, 18, 0, 10);
        s.add_range(0, ip, ip);
        let mut l = Lease::free(ip, 0);
        l.tsfp = 1_000;
        assert!(s.restore(l));
        let take = Take::Both { mclt: 30, partner_free: BindingState::Free };
        assert_eq!(s.allocate(0, &key(1), take, 1_029, 1_059), None, "before tsfp + mclt");
        assert_eq!(s.allocate(0, &key(1), take, 1_030, 1_060), Some(ip), "at tsfp + mclt");
        // Our own free state is not gated (a BACKUP lease on a secondary).
        let own = Ipv4Addr::new(198, 18, 0, 11);
        s.add_range(0, own, own);
        let mut b = Lease::free(own, 0);
        b.state = BindingState::Backup;
        b.tsfp = 5_000;
        assert!(s.restore(b));
        assert_eq!(s.allocate(0, &key(2), take, 1_030, 1_060), Some(own));
    }

    #[test]
    fn client_index_follows_updates() {
        let s = LeaseStore::new(1);
        s.add_range(0, Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 10));
        let ip = Ipv4Addr::new(198, 18, 0, 10);
        s.update(ip, |l| {
            l.state = BindingState::Active;
            l.client = Some(key(1));
            l.ends = 100;
        });
        assert_eq!(s.lookup_client(&key(1)).map(|l| l.ip), Some(ip));
        s.update(ip, |l| l.client = Some(key(2)));
        assert_eq!(s.lookup_client(&key(1)), None);
        assert_eq!(s.lookup_client(&key(2)).map(|l| l.ip), Some(ip));
    }

    #[test]
    fn counts_by_pool_match_per_pool_counts() {
        let s = LeaseStore::new(2);
        s.add_range(0, Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 19));
        s.add_range(1, Ipv4Addr::new(198, 18, 1, 10), Ipv4Addr::new(198, 18, 1, 14));
        s.update(Ipv4Addr::new(198, 18, 0, 10), |l| l.state = BindingState::Active);
        s.update(Ipv4Addr::new(198, 18, 1, 10), |l| l.state = BindingState::Backup);
        s.ensure_pools(3);
        let all = s.counts_by_pool();
        assert_eq!(all.len(), 3);
        for (id, c) in all.iter().enumerate() {
            assert_eq!(*c, s.pool_counts(id as PoolId), "pool {id}");
        }
        assert_eq!((all[0].total, all[0].active, all[1].backup, all[2].total), (10, 1, 1, 0));
    }

    #[test]
    fn concurrent_allocation_never_hands_out_an_address_twice() {
        let s = std::sync::Arc::new(LeaseStore::new(1));
        s.add_range(0, Ipv4Addr::new(198, 18, 0, 0), Ipv4Addr::new(198, 18, 3, 255));
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..300u16)
                        .filter_map(|i| {
                            let k = ClientKey::from_hw(1, &[t, (i >> 8) as u8, i as u8]);
                            s.allocate(0, &k, Take::Any, 0, 60)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Ipv4Addr> = handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
        assert_eq!(all.len(), 1024, "1200 requests for 1024 addresses");
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1024);
    }
}
