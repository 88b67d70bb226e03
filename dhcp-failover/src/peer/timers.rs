//! The peer's timers, as absolute deadlines on the caller's monotonic millisecond clock.

/// Which timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TimerKind {
    /// 15 s STARTUP timer (digest §2.2).
    Startup,
    /// 15 s wait for CONNECT (secondary) or CONNECTACK (primary) on a new link (§1.1).
    ConnectWait,
    /// Send CONTACT when idle: partner receive-timer / 3 after our last message (§2.2).
    Contact,
    /// Own max-response-delay after the partner's last message: link lost (§2.2).
    Receive,
    /// RECOVER-WAIT → RECOVER-DONE at STOS + MCLT (§2.3).
    RecoverDone,
    /// COMMUNICATIONS-INTERRUPTED → PARTNER-DOWN after `auto-partner-down` seconds (§2.2).
    AutoPartnerDown,
}

const KINDS: [TimerKind; 6] = [
    TimerKind::Startup,
    TimerKind::ConnectWait,
    TimerKind::Contact,
    TimerKind::Receive,
    TimerKind::RecoverDone,
    TimerKind::AutoPartnerDown,
];

/// One optional deadline per [`TimerKind`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    at: [Option<u64>; 6],
}

fn idx(k: TimerKind) -> usize {
    match k {
        TimerKind::Startup => 0,
        TimerKind::ConnectWait => 1,
        TimerKind::Contact => 2,
        TimerKind::Receive => 3,
        TimerKind::RecoverDone => 4,
        TimerKind::AutoPartnerDown => 5,
    }
}

impl Timers {
    pub(crate) fn set(&mut self, k: TimerKind, at_ms: u64) {
        if let Some(slot) = self.at.get_mut(idx(k)) {
            *slot = Some(at_ms);
        }
    }

    pub(crate) fn stop(&mut self, k: TimerKind) {
        if let Some(slot) = self.at.get_mut(idx(k)) {
            *slot = None;
        }
    }

    pub(crate) fn get(&self, k: TimerKind) -> Option<u64> {
        self.at.get(idx(k)).copied().flatten()
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<u64> {
        self.at.iter().flatten().copied().min()
    }

    /// Stops and returns the expired timers (deadline ≤ `now_ms`), in [`TimerKind`] order.
    pub(crate) fn expire(&mut self, now_ms: u64) -> Vec<TimerKind> {
        let mut out = Vec::new();
        for k in KINDS {
            if self.get(k).is_some_and(|t| t <= now_ms) {
                self.stop(k);
                out.push(k);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_and_expiry() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(TimerKind::Contact, 500);
        t.set(TimerKind::Startup, 200);
        t.set(TimerKind::Receive, 900);
        assert_eq!(t.next(), Some(200));
        assert_eq!(t.expire(500), vec![TimerKind::Startup, TimerKind::Contact]);
        assert_eq!(t.next(), Some(900));
        t.stop(TimerKind::Receive);
        assert_eq!(t.next(), None);
    }
}
