//! Per-instance counters (no globals: the simulator runs two servers in one process).

use crate::dhcp::{DropReason, Outcome};
use dhcproto::v4::MessageType;
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
    by_type_in: Mutex<std::collections::BTreeMap<String, u64>>,
    by_type_out: Mutex<std::collections::BTreeMap<String, u64>>,
    drops: Mutex<std::collections::BTreeMap<String, u64>>,
}

fn bump(m: &Mutex<std::collections::BTreeMap<String, u64>>, k: String) {
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
    }

    pub fn to_json(&self) -> serde_json::Value {
        let map = |m: &Mutex<std::collections::BTreeMap<String, u64>>| {
            m.lock().map(|m| serde_json::json!(*m)).unwrap_or_default()
        };
        serde_json::json!({
            "received": self.received.load(Ordering::Relaxed),
            "ignored_other_interface": self.ignored_iface.load(Ordering::Relaxed),
            "send_errors": self.send_errors.load(Ordering::Relaxed),
            "journal_errors": self.journal_errors.load(Ordering::Relaxed),
            "fsyncs": self.fsyncs.load(Ordering::Relaxed),
            "fsync_micros_total": self.fsync_micros_total.load(Ordering::Relaxed),
            "fsync_micros_max": self.fsync_micros_max.load(Ordering::Relaxed),
            "in": map(&self.by_type_in),
            "out": map(&self.by_type_out),
            "dropped": map(&self.drops),
        })
    }
}

fn drop_label(r: DropReason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_else(|| format!("{r:?}"))
}
