//! Per-instance counters (no globals: the simulator runs two servers in one process).

use crate::dhcp::{DropReason, Outcome};
use dhcproto::v4::MessageType;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Stats {
    received: AtomicU64,
    ignored_iface: AtomicU64,
    send_errors: AtomicU64,
    journal_errors: AtomicU64,
    fsyncs: AtomicU64,
    fsync_micros_total: AtomicU64,
    fsync_micros_max: AtomicU64,
    pub fsync_latency: Histogram,
    by_type_in: Mutex<BTreeMap<String, u64>>,
    by_type_out: Mutex<BTreeMap<String, u64>>,
    drops: Mutex<BTreeMap<String, u64>>,
    /// OFFERs held now for their `ping-check` echo (gauge): counted as sent only when they go.
    awaiting_ping: AtomicU64,
    /// Dynamic DNS (`runtime::ddns`).
    pub ddns: DdnsStats,
}

/// Dynamic DNS counters: `xdhcpd status` (`stats.ddns`) and `/metrics` (`xdhcpd_ddns_*`).
#[derive(Default)]
pub struct DdnsStats {
    /// Update messages sent (retransmissions included).
    pub sent: AtomicU64,
    /// Update messages answered NOERROR (or with an answer that ends the step as RFC 4703
    /// says, e.g. YXDOMAIN before a conflict check).
    pub succeeded: AtomicU64,
    /// Updates that failed for good (refused, not authorized, no zone, a bad TSIG...);
    /// each one is logged.
    pub failed: AtomicU64,
    /// Retransmissions after a timeout, an unreachable server or SERVFAIL.
    pub retried: AtomicU64,
    /// Jobs waiting or in progress (gauge).
    pub queued: AtomicU64,
    /// Names held by another client (RFC 4703): left alone.
    pub conflicts: AtomicU64,
    /// Jobs not queued because the queue was full.
    pub dropped: AtomicU64,
    /// Answers dropped as not acceptable (wrong id, malformed, bad TSIG).
    pub bad_answers: AtomicU64,
    /// The last failure, for `xdhcpd status`.
    pub last_error: Mutex<Option<String>>,
}

impl DdnsStats {
    /// Counts a failure and keeps its description as the last error.
    pub fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(why);
        }
    }

    /// Keeps `why` as the last error without counting a failure (an answer dropped, an
    /// update retried).
    pub fn note(&self, why: String) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(why);
        }
    }

    pub fn snapshot(&self) -> DdnsSnapshot {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DdnsSnapshot {
            sent: n(&self.sent),
            succeeded: n(&self.succeeded),
            failed: n(&self.failed),
            retried: n(&self.retried),
            queued: n(&self.queued),
            conflicts: n(&self.conflicts),
            dropped: n(&self.dropped),
            bad_answers: n(&self.bad_answers),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// [`DdnsStats`] read at one moment (the `ddns` object of `xdhcpd status`'s `stats`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct DdnsSnapshot {
    pub sent: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub retried: u64,
    pub queued: u64,
    pub conflicts: u64,
    pub dropped: u64,
    pub bad_answers: u64,
    pub last_error: Option<String>,
}

fn bump(m: &Mutex<BTreeMap<String, u64>>, k: String) {
    if let Ok(mut m) = m.lock() {
        *m.entry(k).or_default() += 1;
    }
}

impl Stats {
    pub fn record(&self, out: &Outcome) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let t = out.request_type.map(|t| format!("{t:?}").to_lowercase()).unwrap_or_else(|| "bootp_or_invalid".into());
        bump(&self.by_type_in, t);
        if let Some(r) = out.dropped {
            bump(&self.drops, drop_label(r));
        }
    }

    /// A request answered with nothing after all (the engine replied, the runtime did not send).
    pub fn dropped(&self, r: DropReason) {
        bump(&self.drops, drop_label(r));
    }

    /// An OFFER starts or ends its wait for a `ping-check` echo.
    pub fn awaiting_ping(&self, held: bool) {
        if held {
            self.awaiting_ping.fetch_add(1, Ordering::Relaxed);
        } else {
            // Never below zero, whatever the order of calls.
            let _ = self.awaiting_ping.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    pub fn sent(&self, t: MessageType) {
        bump(&self.by_type_out, format!("{t:?}").to_lowercase());
    }

    pub fn ignored_iface(&self) {
        self.ignored_iface.fetch_add(1, Ordering::Relaxed);
    }

    pub fn send_error(&self) {
        self.send_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn journal_error(&self) {
        self.journal_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn fsync(&self, d: Duration) {
        let us = d.as_micros() as u64;
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_micros_total.fetch_add(us, Ordering::Relaxed);
        self.fsync_micros_max.fetch_max(us, Ordering::Relaxed);
        self.fsync_latency.observe(d);
    }

    /// The counters now: what `xdhcpd status` shows as `stats` and `/metrics` exposes.
    pub fn snapshot(&self) -> StatsSnapshot {
        let counts = |m: &Mutex<BTreeMap<String, u64>>| m.lock().map(|m| m.clone()).unwrap_or_default();
        StatsSnapshot {
            received: self.received.load(Ordering::Relaxed),
            ignored_other_interface: self.ignored_iface.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
            journal_errors: self.journal_errors.load(Ordering::Relaxed),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            fsync_micros_total: self.fsync_micros_total.load(Ordering::Relaxed),
            fsync_micros_max: self.fsync_micros_max.load(Ordering::Relaxed),
            fsync_latency: self.fsync_latency.snapshot(),
            received_by_type: counts(&self.by_type_in),
            sent_by_type: counts(&self.by_type_out),
            dropped: counts(&self.drops),
            awaiting_ping: self.awaiting_ping.load(Ordering::Relaxed),
            ddns: self.ddns.snapshot(),
        }
    }
}

/// [`Stats`] read at one moment. Serializes as the `stats` object of `xdhcpd status` (the
/// field names are that JSON's keys).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StatsSnapshot {
    /// DHCP messages received.
    pub received: u64,
    /// Requests that arrived on an interface we do not serve.
    pub ignored_other_interface: u64,
    pub send_errors: u64,
    pub journal_errors: u64,
    /// Lease file group commits (fdatasync).
    pub fsyncs: u64,
    pub fsync_micros_total: u64,
    pub fsync_micros_max: u64,
    pub fsync_latency: HistogramSnapshot,
    /// Messages received by type (`discover`, `request`, …, `bootp_or_invalid`).
    #[serde(rename = "in")]
    pub received_by_type: BTreeMap<String, u64>,
    /// Messages sent by type.
    #[serde(rename = "out")]
    pub sent_by_type: BTreeMap<String, u64>,
    /// Requests not answered, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// OFFERs held now for their `ping-check` echo (not yet counted in `out`).
    pub awaiting_ping: u64,
    /// Dynamic DNS updates.
    pub ddns: DdnsSnapshot,
}

fn drop_label(r: DropReason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_else(|| format!("{r:?}"))
}

/// Upper bounds (seconds) of the latency histograms' buckets: from a fast fsync (0.5 ms) to a
/// partner that answers after a minute (replication lag across a link outage).
pub const LATENCY_BOUNDS: [f64; 16] =
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A latency histogram with fixed buckets (`LATENCY_BOUNDS`), lock-free to update. Exported
/// as a Prometheus histogram: cumulative bucket counts, sum and count.
#[derive(Default)]
pub struct Histogram {
    /// Non-cumulative: `buckets[i]` counts observations in (bound[i-1], bound[i]]; the last
    /// slot counts those above every bound (+Inf).
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BOUNDS.iter().position(|b| secs <= *b).unwrap_or(LATENCY_BOUNDS.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// The counts now, cumulative as Prometheus wants them.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0u64;
        let mut buckets = Vec::with_capacity(LATENCY_BOUNDS.len());
        for (bound, n) in LATENCY_BOUNDS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            buckets.push((*bound, cumulative));
        }
        let count = cumulative + self.buckets.last().map(|n| n.load(Ordering::Relaxed)).unwrap_or(0);
        HistogramSnapshot { buckets, sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6, count }
    }
}

/// A [`Histogram`] read at one moment: `buckets` are (upper bound in seconds, cumulative
/// count); the +Inf bucket is `count`. Serializes as `{"buckets": [[le, n]...], "sum", "count"}`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct HistogramSnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(120));
        let j = serde_json::to_value(h.snapshot()).expect("serializes");
        assert_eq!(j["count"], 3);
        assert_eq!(j["buckets"][0], serde_json::json!([0.0005, 1]));
        // 3 ms falls in the 5 ms bucket, and every later bucket includes it.
        assert_eq!(j["buckets"][3], serde_json::json!([0.005, 2]));
        assert_eq!(j["buckets"][15], serde_json::json!([60.0, 2]));
        let sum = j["sum"].as_f64().unwrap_or(0.0);
        assert!((sum - 120.0033).abs() < 1e-6, "{sum}");
    }

    /// `xdhcpd status` shows the snapshot as `stats`: these keys, the per-type counts as
    /// objects. Scripts and `/metrics`-less dashboards read them.
    #[test]
    fn the_snapshot_serializes_to_the_status_keys() {
        let stats = Stats::default();
        stats.sent(MessageType::Offer);
        stats.fsync(Duration::from_millis(1));
        let v = serde_json::to_value(stats.snapshot()).expect("serializes");
        let keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "awaiting_ping",
                "ddns",
                "dropped",
                "fsync_latency",
                "fsync_micros_max",
                "fsync_micros_total",
                "fsyncs",
                "ignored_other_interface",
                "in",
                "journal_errors",
                "out",
                "received",
                "send_errors"
            ]
        );
        assert_eq!(v["out"]["offer"], 1);
        assert_eq!(v["fsyncs"], 1);
        assert_eq!(v["in"], serde_json::json!({}));
        assert_eq!(v["fsync_latency"]["count"], 1);
        // An OFFER held for its ping, then sent or dropped: the gauge never goes below zero.
        stats.awaiting_ping(true);
        assert_eq!(stats.snapshot().awaiting_ping, 1);
        stats.awaiting_ping(false);
        stats.awaiting_ping(false);
        assert_eq!(stats.snapshot().awaiting_ping, 0);
    }
}
