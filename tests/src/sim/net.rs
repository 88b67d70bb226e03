//! The simulated networks' state: the failover TCP link between the two servers and the
//! fault parameters of the client LAN. The delivery itself is scheduled by the simulator's
//! event queue (`super::Sim`).

/// The failover TCP connection as the two endpoints see it.
///
/// Bytes are delivered in order (each direction's delivery times never decrease) while both
/// endpoints are open and the connection generation matches; a stall holds a direction back;
/// a close delivers what was written, then EOF; a reset drops everything at once; a
/// partition prevents reconnection until it ends.
#[derive(Clone, Debug, Default)]
pub struct Link {
    /// Connection generation (a new TCP connection increments it; stale bytes are dropped).
    pub conn: u64,
    /// Each endpoint believes the connection `conn` is open.
    pub open: [bool; 2],
    /// Sim ms of the last scheduled delivery per direction (index = sender).
    pub last_at: [u64; 2],
    /// A direction (index = sender) delivers nothing before this time.
    pub stalled_until: [u64; 2],
    /// No new connection before this time.
    pub partitioned_until: u64,
    /// A reconnect attempt is scheduled.
    pub reconnect_pending: bool,
    /// Chunks (and EOFs) scheduled and not yet delivered or dropped.
    pub in_flight: usize,
    /// Maximum one-way latency, ms.
    pub latency_max: u64,
}

impl Link {
    pub fn both_closed(&self) -> bool {
        !self.open[0] && !self.open[1]
    }
}

/// Faults of the client LAN (UDP): loss, duplication, delay (hence reordering).
#[derive(Clone, Copy, Debug)]
pub struct Lan {
    pub loss: f64,
    pub dup: f64,
    pub delay_max: u64,
}
