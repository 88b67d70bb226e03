//! Partner-liveness evidence from the NIC (Kea's unacked-clients rule, on dhcpd's terms).
//!
//! In NORMAL the XDP program drops the DISCOVERs the partner owns, so userspace never sees
//! whether the partner answers them. What it can count is the clients that come back:
//! a partner-owned DISCOVER whose `secs` exceeds `load balance max seconds` is passed and
//! counted (`counter::PASS_PARTNER_LATE`) — that client has waited longer than the partner
//! should take. A sustained stream of those means the partner is not serving, even while
//! its failover link may still look alive.
//!
//! Pure: the caller samples the counter with its own clock.

use std::collections::VecDeque;

/// How far back evidence counts. Covers the window between a partner that stops serving
/// and the link loss that moves us to COMMUNICATIONS-INTERRUPTED (max-response-delay).
pub const WINDOW_MS: u64 = 30_000;

/// Late partner DISCOVERs within the window that make the evidence (Kea's
/// `max-unacked-clients` default is 10). Frames, not distinct clients: a client retrying
/// with exponential backoff contributes one or two per window.
pub const MIN_LATE: u64 = 10;

/// Samples with an increase needed: the lateness must be sustained, not one burst.
pub const MIN_RISING_SAMPLES: usize = 2;

#[derive(Debug, Default)]
pub struct PartnerLiveness {
    /// (monotonic ms, counter total), oldest first, spanning at most the window.
    samples: VecDeque<(u64, u64)>,
}

impl PartnerLiveness {
    /// Record the counter's total at `mono_ms`. A total below the previous one (another
    /// program took over, counters restarted) starts over.
    pub fn observe(&mut self, mono_ms: u64, late_total: u64) {
        if self.samples.back().is_some_and(|&(_, last)| late_total < last) {
            self.samples.clear();
        }
        self.samples.push_back((mono_ms, late_total));
        // Keep one sample at or before the window's start as the baseline.
        while self.samples.len() > 1
            && self.samples.get(1).is_some_and(|&(t, _)| t.saturating_add(WINDOW_MS) <= mono_ms)
        {
            self.samples.pop_front();
        }
    }

    /// Late partner DISCOVERs counted within the window.
    pub fn recent(&self) -> u64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(_, first)), Some(&(_, last))) => last.saturating_sub(first),
            _ => 0,
        }
    }

    /// Whether the window holds enough, sustained evidence that the partner is not serving.
    pub fn partner_unresponsive(&self) -> bool {
        let rising = self.samples.iter().zip(self.samples.iter().skip(1)).filter(|(a, b)| b.1 > a.1).count();
        self.recent() >= MIN_LATE && rising >= MIN_RISING_SAMPLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sustained_stream_of_late_partner_clients_is_evidence() {
        let mut l = PartnerLiveness::default();
        l.observe(0, 100);
        l.observe(5_000, 106);
        assert!(!l.partner_unresponsive(), "6 late frames are not enough");
        l.observe(10_000, 112);
        assert_eq!(l.recent(), 12);
        assert!(l.partner_unresponsive());
    }

    #[test]
    fn one_burst_is_not_sustained() {
        let mut l = PartnerLiveness::default();
        l.observe(0, 0);
        l.observe(5_000, 50);
        l.observe(10_000, 50);
        assert_eq!(l.recent(), 50);
        assert!(!l.partner_unresponsive(), "one rising sample only");
    }

    #[test]
    fn evidence_expires_with_the_window() {
        let mut l = PartnerLiveness::default();
        l.observe(0, 0);
        l.observe(5_000, 10);
        l.observe(10_000, 20);
        assert!(l.partner_unresponsive());
        // The partner answers again: no new late frames for a whole window.
        l.observe(20_000, 20);
        l.observe(40_000, 20);
        l.observe(45_000, 20);
        assert_eq!(l.recent(), 0);
        assert!(!l.partner_unresponsive());
    }

    #[test]
    fn a_counter_restart_starts_over() {
        let mut l = PartnerLiveness::default();
        l.observe(0, 1_000);
        l.observe(5_000, 1_020);
        l.observe(10_000, 3);
        assert_eq!(l.recent(), 0);
        assert!(!l.partner_unresponsive());
    }

    #[test]
    fn the_baseline_is_the_last_sample_before_the_window() {
        let mut l = PartnerLiveness::default();
        for (t, v) in [(0, 0), (10_000, 0), (20_000, 5), (30_000, 10), (40_000, 15)] {
            l.observe(t, v);
        }
        // Window (10 s, 40 s]: baseline at 10 s (0) → 15 late.
        assert_eq!(l.recent(), 15);
        assert!(l.partner_unresponsive());
    }
}
