//! The BNDUPD send queue and the in-flight (un-acked) window.
//!
//! dhcpd keeps a lease on its update queue at most once (a newer change of a queued lease
//! replaces the queued one) and moves un-acked updates back to the *front* of the queue when
//! they must be retransmitted. Both are O(log n) here so that an UPDREQALL over a large lease
//! database stays cheap.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;

use crate::wire::Binding;

/// Bindings waiting to be sent, FIFO, one per IP address.
#[derive(Debug, Default, Clone)]
pub(crate) struct UpdateQueue {
    by_seq: BTreeMap<i64, Binding>,
    by_ip: HashMap<Ipv4Addr, i64>,
    front: i64,
    back: i64,
}

impl UpdateQueue {
    /// Queues `b` at the back, or replaces the queued update of the same IP in place.
    pub(crate) fn push_back(&mut self, b: Binding) {
        if let Some(seq) = self.by_ip.get(&b.ip) {
            self.by_seq.insert(*seq, b);
            return;
        }
        self.back += 1;
        self.by_ip.insert(b.ip, self.back);
        self.by_seq.insert(self.back, b);
    }

    /// Puts `b` at the front (retransmission), unless a newer update of the same IP is
    /// already queued, which wins.
    pub(crate) fn push_front(&mut self, b: Binding) {
        if self.by_ip.contains_key(&b.ip) {
            return;
        }
        self.front -= 1;
        self.by_ip.insert(b.ip, self.front);
        self.by_seq.insert(self.front, b);
    }

    /// Takes the oldest queued update.
    pub(crate) fn pop_front(&mut self) -> Option<Binding> {
        let (_, b) = self.by_seq.pop_first()?;
        self.by_ip.remove(&b.ip);
        Some(b)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        self.by_ip.contains_key(&ip)
    }

    /// The queued update of `ip`, if any.
    pub(crate) fn get(&self, ip: Ipv4Addr) -> Option<&Binding> {
        self.by_ip.get(&ip).and_then(|seq| self.by_seq.get(seq))
    }

    /// Drops the queued update of `ip`, if any.
    pub(crate) fn remove(&mut self, ip: Ipv4Addr) -> Option<Binding> {
        let seq = self.by_ip.remove(&ip)?;
        self.by_seq.remove(&seq)
    }
}

/// One BNDUPD sent and not yet acked.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) xid: u32,
    pub(crate) binding: Binding,
    /// A newer update of the same IP was queued after this one was sent: its ack frees the
    /// window slot but reports nothing, and it is not retransmitted.
    pub(crate) superseded: bool,
    /// It lost a duel with the partner's update of the same IP (`Peer::withdraw_update`):
    /// the partner refuses it, so no later update of the partner's crosses it.
    pub(crate) withdrawn: bool,
}

/// The un-acked window, in send order. Acks come almost always in send order, so the front
/// is looked at first and removed in O(1) (a Vec shifted the whole window per ack: with a
/// 1,000-update window that was most of a 100,000-lease resync's CPU).
///
/// `per_ip` counts the in-flight updates of each address, so that the per-address questions
/// (`supersede`, `withdraw`, `first`) skip the scan when the address has none in flight: an
/// UPDREQALL queues every lease behind a full window, and scanning the window for each of
/// 100,000 addresses cost ~10^8 comparisons before the first BNDUPD could be written.
#[derive(Debug, Default, Clone)]
pub(crate) struct Window {
    items: VecDeque<InFlight>,
    per_ip: HashMap<Ipv4Addr, u32>,
}

impl Window {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn push(&mut self, xid: u32, binding: Binding) {
        *self.per_ip.entry(binding.ip).or_insert(0) += 1;
        self.items.push_back(InFlight { xid, binding, superseded: false, withdrawn: false });
    }

    fn in_flight(&self, ip: Ipv4Addr) -> bool {
        self.per_ip.contains_key(&ip)
    }

    fn forget(&mut self, f: &InFlight) {
        if let Some(n) = self.per_ip.get_mut(&f.binding.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&f.binding.ip);
            }
        }
    }

    /// Marks every in-flight update of `ip` superseded.
    pub(crate) fn supersede(&mut self, ip: Ipv4Addr) {
        if !self.in_flight(ip) {
            return;
        }
        for f in self.items.iter_mut().filter(|f| f.binding.ip == ip) {
            f.superseded = true;
        }
    }

    /// Removes and returns the in-flight update with this xid.
    pub(crate) fn take(&mut self, xid: u32) -> Option<InFlight> {
        let taken = if self.items.front().is_some_and(|f| f.xid == xid) {
            self.items.pop_front()
        } else {
            let i = self.items.iter().position(|f| f.xid == xid)?;
            self.items.remove(i)
        };
        if let Some(f) = &taken {
            self.forget(f);
        }
        taken
    }

    /// Marks every in-flight update of `ip` withdrawn (and superseded).
    pub(crate) fn withdraw(&mut self, ip: Ipv4Addr) {
        if !self.in_flight(ip) {
            return;
        }
        for f in self.items.iter_mut().filter(|f| f.binding.ip == ip) {
            f.superseded = true;
            f.withdrawn = true;
        }
    }

    /// The oldest in-flight update of `ip` not withdrawn, superseded or not: the partner
    /// receives it first.
    pub(crate) fn first(&self, ip: Ipv4Addr) -> Option<&Binding> {
        if !self.in_flight(ip) {
            return None;
        }
        self.items.iter().find(|f| f.binding.ip == ip && !f.withdrawn).map(|f| &f.binding)
    }

    /// Is an update with this xid in flight, and for which IP?
    pub(crate) fn ip_of(&self, xid: u32) -> Option<Ipv4Addr> {
        match self.items.front() {
            Some(f) if f.xid == xid => Some(f.binding.ip),
            _ => self.items.iter().find(|f| f.xid == xid).map(|f| f.binding.ip),
        }
    }

    /// Empties the window, returning the non-superseded updates in send order.
    pub(crate) fn drain_live(&mut self) -> Vec<Binding> {
        self.per_ip.clear();
        self.items.drain(..).filter(|f| !f.superseded).map(|f| f.binding).collect()
    }
}

/// Moves every live in-flight update back to the front of `queue`, keeping send order.
pub(crate) fn requeue(window: &mut Window, queue: &mut UpdateQueue) -> usize {
    let live = window.drain_live();
    let n = live.len();
    for b in live.into_iter().rev() {
        queue.push_front(b);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::IpFlags;
    use dhcp_common::BindingState;

    fn b(last: u8, tstp: u32) -> Binding {
        Binding {
            ip: Ipv4Addr::new(10, 0, 0, last),
            status: BindingState::Active.into(),
            client_id: None,
            chaddr: None,
            ends: 0,
            tstp,
            starts: 0,
            cltt: 0,
            ip_flags: IpFlags::NONE,
            vendor: None,
        }
    }

    #[test]
    fn queue_dedupes_and_orders() {
        let mut q = UpdateQueue::default();
        q.push_back(b(1, 1));
        q.push_back(b(2, 1));
        q.push_back(b(1, 2)); // replaces in place
        assert_eq!(q.len(), 2);
        q.push_front(b(3, 1));
        q.push_front(b(2, 0)); // a newer one is queued: ignored
        let order: Vec<_> = std::iter::from_fn(|| q.pop_front()).map(|x| (x.ip.octets()[3], x.tstp)).collect();
        assert_eq!(order, vec![(3, 1), (1, 2), (2, 1)]);
        assert!(q.is_empty());
    }

    #[test]
    fn window_answers_per_address_after_acks() {
        let mut w = Window::default();
        w.push(1, b(1, 1));
        w.push(2, b(2, 1));
        w.push(3, b(1, 2));
        assert_eq!(w.first(Ipv4Addr::new(10, 0, 0, 1)).map(|x| x.tstp), Some(1));
        assert!(w.take(1).is_some());
        // The second update of .1 is still in flight; .2 has none once its ack is taken.
        assert_eq!(w.first(Ipv4Addr::new(10, 0, 0, 1)).map(|x| x.tstp), Some(2));
        assert!(w.take(2).is_some());
        assert!(w.first(Ipv4Addr::new(10, 0, 0, 2)).is_none());
        w.supersede(Ipv4Addr::new(10, 0, 0, 1));
        let f = w.take(3).expect("in flight");
        assert!(f.superseded);
        assert!(w.first(Ipv4Addr::new(10, 0, 0, 1)).is_none());
        assert!(w.per_ip.is_empty());
    }

    #[test]
    fn requeue_keeps_order_and_drops_superseded() {
        let mut w = Window::default();
        let mut q = UpdateQueue::default();
        w.push(1, b(1, 1));
        w.push(2, b(2, 1));
        w.push(3, b(3, 1));
        w.supersede(Ipv4Addr::new(10, 0, 0, 2));
        q.push_back(b(9, 1));
        assert_eq!(requeue(&mut w, &mut q), 2);
        assert!(w.is_empty());
        let order: Vec<_> = std::iter::from_fn(|| q.pop_front()).map(|x| x.ip.octets()[3]).collect();
        assert_eq!(order, vec![1, 3, 9]);
    }
}
