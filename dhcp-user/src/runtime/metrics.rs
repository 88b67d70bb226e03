//! A Prometheus `/metrics` endpoint (off by default; `--metrics ADDR`, loopback unless told
//! otherwise). Text exposition format 0.0.4, built on each scrape from the same sources as
//! `xdhcpd status`: pools, DHCP messages in/out and drops, XDP counters, failover state,
//! unacked updates, replication lag (histogram per relationship), journal fsyncs and their
//! latency (histogram).

use super::failover::{Rels, Xdp};
use crate::dhcp::Engine;
use crate::stats::Stats;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn spawn(addr: SocketAddr, rels: Rels, stats: Arc<Stats>, engine: Arc<Engine>, xdp: Xdp) {
    tokio::spawn(async move {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("metrics: cannot listen on {addr}: {e}");
                return;
            }
        };
        tracing::info!("metrics on http://{addr}/metrics");
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { continue };
            let (rels, stats, engine, xdp) = (rels.clone(), stats.clone(), engine.clone(), xdp.clone());
            tokio::spawn(async move {
                let mut req = [0u8; 1024];
                let n = match tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut req)).await {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let head = String::from_utf8_lossy(req.get(..n).unwrap_or(&[]));
                let (status, body) = if head.starts_with("GET /metrics") {
                    ("200 OK", render(&rels, &stats, &engine, &xdp).await)
                } else {
                    ("404 Not Found", "try /metrics\n".to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The samples of one histogram with `labels` (`k="v",` each).
fn histogram(out: &mut String, name: &str, labels: &str, h: &crate::stats::HistogramSnapshot) {
    for (le, n) in &h.buckets {
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {n}");
    }
    let count = h.count;
    let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
    // `name{}` is not valid exposition text: no braces without labels.
    let own = labels.trim_end_matches(',');
    let own = if own.is_empty() { String::new() } else { format!("{{{own}}}") };
    let _ = writeln!(out, "{name}_sum{own} {}", h.sum);
    let _ = writeln!(out, "{name}_count{own} {count}");
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

async fn render(rels: &Rels, stats: &Stats, engine: &Engine, xdp: &Xdp) -> String {
    let mut out = String::new();
    let s = stats.snapshot();

    family(&mut out, "xdhcpd_leases", "gauge", "Addresses by pool and binding state.");
    let counts = engine.store().counts_by_pool();
    for n in &engine.config().networks {
        for (i, _) in n.pools.iter().enumerate() {
            let id = n.first_pool_id + i as u32;
            let c = counts.get(id as usize).copied().unwrap_or_default();
            for (state, v) in [
                ("free", c.free),
                ("backup", c.backup),
                ("active", c.active),
                ("abandoned", c.abandoned),
                ("other", c.other),
            ] {
                let _ = writeln!(
                    out,
                    "xdhcpd_leases{{pool=\"{id}\",network=\"{}\",state=\"{state}\"}} {v}",
                    label(&n.name)
                );
            }
        }
    }
    for (metric, label_name, counts, help) in [
        ("xdhcpd_dhcp_messages_received_total", "type", &s.received_by_type, "DHCP messages received, by type."),
        ("xdhcpd_dhcp_messages_sent_total", "type", &s.sent_by_type, "DHCP messages sent, by type."),
        ("xdhcpd_dhcp_dropped_total", "reason", &s.dropped, "Requests not answered, by reason."),
    ] {
        family(&mut out, metric, "counter", help);
        for (k, v) in counts {
            let _ = writeln!(out, "{metric}{{{label_name}=\"{}\"}} {v}", label(k));
        }
    }
    family(&mut out, "xdhcpd_dhcp_offers_awaiting_ping", "gauge", "OFFERs held for their ping-check echo.");
    let _ = writeln!(out, "xdhcpd_dhcp_offers_awaiting_ping {}", s.awaiting_ping);
    family(&mut out, "xdhcpd_journal_fsyncs_total", "counter", "Lease file group commits (fdatasync).");
    let _ = writeln!(out, "xdhcpd_journal_fsyncs_total {}", s.fsyncs);
    family(&mut out, "xdhcpd_journal_fsync_seconds_total", "counter", "Time spent in lease file fdatasync.");
    let _ = writeln!(out, "xdhcpd_journal_fsync_seconds_total {}", s.fsync_micros_total as f64 / 1e6);
    family(&mut out, "xdhcpd_journal_fsync_max_seconds", "gauge", "Longest lease file fdatasync.");
    let _ = writeln!(out, "xdhcpd_journal_fsync_max_seconds {}", s.fsync_micros_max as f64 / 1e6);

    family(&mut out, "xdhcpd_journal_fsync_duration_seconds", "histogram", "Lease file fdatasync latency.");
    histogram(&mut out, "xdhcpd_journal_fsync_duration_seconds", "", &s.fsync_latency);

    let d = &s.ddns;
    for (metric, kind, v, help) in [
        ("xdhcpd_ddns_sent_total", "counter", d.sent, "DNS update messages sent (retransmissions included)."),
        ("xdhcpd_ddns_succeeded_total", "counter", d.succeeded, "DNS update messages answered with success."),
        (
            "xdhcpd_ddns_failed_total",
            "counter",
            d.failed,
            "DNS updates that failed for good (refused, bad key, no zone...).",
        ),
        (
            "xdhcpd_ddns_retried_total",
            "counter",
            d.retried,
            "DNS update retransmissions (timeout, unreachable, SERVFAIL).",
        ),
        (
            "xdhcpd_ddns_conflicts_total",
            "counter",
            d.conflicts,
            "DNS names held by another client, left alone (RFC 4703).",
        ),
        ("xdhcpd_ddns_dropped_total", "counter", d.dropped, "DNS update jobs not queued: the queue was full."),
        (
            "xdhcpd_ddns_bad_answers_total",
            "counter",
            d.bad_answers,
            "DNS answers dropped (wrong id, malformed, bad TSIG).",
        ),
        ("xdhcpd_ddns_queued", "gauge", d.queued, "DNS update jobs waiting or in progress."),
    ] {
        family(&mut out, metric, kind, help);
        let _ = writeln!(out, "{metric} {v}");
    }

    let counters = xdp.lock().ok().and_then(|x| x.as_ref().and_then(|p| p.counters().ok()));
    family(&mut out, "xdhcpd_xdp_packets_total", "counter", "Frames seen by the XDP program, by outcome.");
    if let Some(c) = counters {
        for (k, v) in c.by_name() {
            let _ = writeln!(out, "xdhcpd_xdp_packets_total{{outcome=\"{}\"}} {v}", label(k));
        }
    }

    let rel_status = super::failover::statuses(rels).await;
    for (metric, help) in [
        (
            "xdhcpd_failover_state",
            "This server's failover state (wire code: 2 normal, 3 communications-interrupted, 4 partner-down, 6 recover...).",
        ),
        ("xdhcpd_failover_partner_state", "The partner's failover state as last reported (wire code)."),
        ("xdhcpd_failover_link_up", "1 when the failover connection is established."),
        ("xdhcpd_failover_unacked_updates", "Binding updates sent and not yet acknowledged."),
        ("xdhcpd_failover_queued_updates", "Binding updates waiting for the window."),
        ("xdhcpd_failover_clock_skew_seconds", "Partner clock minus ours, from the last failover message."),
    ] {
        family(&mut out, metric, "gauge", help);
        for r in &rel_status {
            let peer = label(&r.name);
            let v = match metric {
                "xdhcpd_failover_state" => i64::from(r.my_state.0),
                "xdhcpd_failover_partner_state" => i64::from(r.partner_state.0),
                "xdhcpd_failover_link_up" => i64::from(r.link_up),
                "xdhcpd_failover_unacked_updates" => r.unacked_updates as i64,
                "xdhcpd_failover_clock_skew_seconds" => r.clock_skew_secs.unwrap_or(0),
                _ => r.queued_updates as i64,
            };
            let role = r.role.name();
            let _ = writeln!(out, "{metric}{{peer=\"{peer}\",role=\"{role}\"}} {v}");
        }
    }
    family(
        &mut out,
        "xdhcpd_failover_replication_lag_seconds",
        "histogram",
        "Time from a lease change being durable here (before its ACK) to the partner's BNDACK for it.",
    );
    for r in &rel_status {
        let labels = format!("peer=\"{}\",", label(&r.name));
        histogram(&mut out, "xdhcpd_failover_replication_lag_seconds", &labels, &r.replication_lag);
    }
    family(
        &mut out,
        "xdhcpd_failover_link_refused_total",
        "counter",
        "Peer connections refused by message authentication, the replay rule or the TLS handshake.",
    );
    for r in &rel_status {
        let peer = label(&r.name);
        let v = r.link_security.refused_connections;
        let _ = writeln!(out, "xdhcpd_failover_link_refused_total{{peer=\"{peer}\"}} {v}");
    }
    family(&mut out, "xdhcpd_failover_config_drift", "gauge", "Configuration sections that differ from the partner's.");
    for r in &rel_status {
        let peer = label(&r.name);
        let v = r.config_drift.as_ref().map_or(0, Vec::len);
        let _ = writeln!(out, "xdhcpd_failover_config_drift{{peer=\"{peer}\"}} {v}");
    }
    out
}
