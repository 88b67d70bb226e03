//! The one policy for a failover state change that could not be written to the lease file.
//!
//! A state change must be durable before anything acts on it. The partner must never read a
//! STATE that this server could forget in a crash (it would act on a promise no longer
//! kept after the restart), and the engine and the NIC must not serve under it. So when the
//! write fails the relationship *holds*: nothing is transmitted (the peer's messages wait,
//! in order, or die with the connection, which the partner treats as a lost link), the
//! relationship's pools get no service, and the write is retried (every 5 s in the
//! runtime). Once it succeeds, the held messages go and the state is published.
//!
//! No service is always safe for uniqueness, and costs little more than the failure itself:
//! a server whose lease file cannot be written cannot ACK a lease anyway.

use super::FailoverView;
use dhcp_failover::transitions::ServiceLevel;

/// Whether the relationship's current state is durable.
#[derive(Debug, Default)]
pub struct StateWrite {
    unsaved: bool,
}

impl StateWrite {
    /// The outcome of writing the current state record. Returns true when this changes
    /// whether the relationship holds (the caller logs and publishes).
    pub fn written(&mut self, ok: bool) -> bool {
        let changed = self.unsaved == ok;
        self.unsaved = !ok;
        changed
    }

    /// The current state is not durable: write it again before anything else.
    pub fn unsaved(&self) -> bool {
        self.unsaved
    }

    /// Whether the peer's output may leave now.
    pub fn may_transmit(&self) -> bool {
        !self.unsaved
    }

    /// What the engine and the NIC act on: the peer's view, or no service while the state
    /// is not durable. The steering keeps its fields (XDP only ever drops DISCOVERs that the
    /// partner answers); the engine refuses the relationship's pools.
    pub fn view(&self, mut view: FailoverView) -> FailoverView {
        if self.unsaved {
            view.service = ServiceLevel::None;
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal() -> FailoverView {
        FailoverView::normal_primary_for_tests()
    }

    #[test]
    fn a_failed_write_holds_output_and_service_until_a_write_succeeds() {
        let mut w = StateWrite::default();
        assert!(w.may_transmit());
        assert_eq!(w.view(normal()).service, ServiceLevel::Cooperating);

        assert!(w.written(false), "failing is a change");
        assert!(w.unsaved());
        assert!(!w.may_transmit(), "the STATE it records must not leave");
        assert_eq!(w.view(normal()).service, ServiceLevel::None);
        assert!(!w.written(false), "still failing: no new change to log");
        assert!(!w.may_transmit());

        assert!(w.written(true));
        assert!(w.may_transmit());
        assert_eq!(w.view(normal()).service, ServiceLevel::Cooperating);
        assert!(!w.written(true));
    }
}
