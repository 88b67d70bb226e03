//! The /metrics endpoint, read by a real Prometheus text-format parser (the Python
//! `prometheus_client` parser, installed by `cargo xtask setup` / `.ci/run`), for a single
//! server and for a failover pair.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use xdhcpd_tests::lab::{Lab, default_config};
use xdhcpd_tests::netns::Netns;
use xdhcpd_tests::pair::{PairLab, pair_config};
use xdhcpd_tests::require_root;

/// Parsed samples: (metric name, labels) → value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Scrape inside `ns` and parse with prometheus_client: samples as (name, labels) → value.
fn scrape(ns: &Netns, addr: &str) -> Result<Samples> {
    let script = format!(
        "import json, urllib.request\n\
         from prometheus_client.parser import text_string_to_metric_families\n\
         text = urllib.request.urlopen('http://{addr}/metrics', timeout=5).read().decode()\n\
         out = []\n\
         for fam in text_string_to_metric_families(text):\n\
         \x20   for s in fam.samples:\n\
         \x20       out.append([s.name, s.labels, s.value])\n\
         print(json.dumps(out))\n"
    );
    let out = ns.command("python3").args(["-c", &script]).output()?;
    anyhow::ensure!(out.status.success(), "parser failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<(String, BTreeMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).context("parser output")?;
    Ok(v.into_iter().map(|(n, l, x)| ((n, l), x)).collect())
}

fn get(m: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    m.iter()
        .find(|((n, l), _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, v)| *v)
}

#[test]
fn metrics_parse_and_count_a_lease() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(&default_config(600))?;
    lab.start_server(&["--xdp-mode", "skb", "--metrics", "127.0.0.1:9167"])?;
    lab.add_client_iface("m1", "52:54:00:00:50:01")?;
    lab.udhcpc_once("m1")?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let m = scrape(&lab.srv, "127.0.0.1:9167")?;
    assert_eq!(get(&m, "xdhcpd_leases", &[("pool", "0"), ("state", "active")]), Some(1.0), "{m:?}");
    assert!(get(&m, "xdhcpd_dhcp_messages_received_total", &[("type", "discover")]).unwrap_or(0.0) >= 1.0);
    assert!(get(&m, "xdhcpd_dhcp_messages_sent_total", &[("type", "ack")]).unwrap_or(0.0) >= 1.0);
    assert!(get(&m, "xdhcpd_journal_fsyncs_total", &[]).unwrap_or(0.0) >= 1.0);
    // The fsync latency histogram counts every fsync, with cumulative buckets.
    let fsyncs = get(&m, "xdhcpd_journal_fsync_duration_seconds_count", &[]).context("fsync histogram")?;
    assert_eq!(Some(fsyncs), get(&m, "xdhcpd_journal_fsyncs_total", &[]), "{m:?}");
    check_histogram(&m, "xdhcpd_journal_fsync_duration_seconds", &[])?;
    // XDP counted the client's frames (standalone: passed, not balanced).
    assert!(
        get(&m, "xdhcpd_xdp_packets_total", &[("outcome", "pass_not_balanced_state")]).unwrap_or(0.0) >= 1.0,
        "{m:?}"
    );
    lab.stop_server()?;
    Ok(())
}

#[test]
fn metrics_show_failover_state() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;
    lab.start(0, &["--xdp-mode", "off", "--metrics", "127.0.0.1:9167"])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.wait_state(0, "normal", Some("normal"), std::time::Duration::from_secs(20))?;
    let m = scrape(&lab.srv[0], "127.0.0.1:9167")?;
    assert_eq!(get(&m, "xdhcpd_failover_state", &[("peer", "lab"), ("role", "primary")]), Some(2.0), "{m:?}");
    assert_eq!(get(&m, "xdhcpd_failover_partner_state", &[("peer", "lab")]), Some(2.0));
    assert_eq!(get(&m, "xdhcpd_failover_link_up", &[("peer", "lab")]), Some(1.0));
    // Both servers share this machine's clock: the measured skew is at most a second.
    let skew = get(&m, "xdhcpd_failover_clock_skew_seconds", &[("peer", "lab")]).context("skew metric")?;
    assert!(skew.abs() <= 1.0, "skew {skew}");

    // Serve a few clients, then every family has plausible values.
    let mut bound = 0.0;
    for n in 1..=4u8 {
        let name = format!("p{n}");
        lab.add_client(&name, &format!("52:54:00:00:51:{n:02x}"))?;
        let (_, server) = lab.udhcpc(&name)?;
        if server == "198.18.0.1" {
            bound += 1.0;
        }
    }
    // The partner's BNDACKs arrive after the clients' ACKs: poll (bounded) for them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let m = loop {
        let m = scrape(&lab.srv[0], "127.0.0.1:9167")?;
        let lag = get(&m, "xdhcpd_failover_replication_lag_seconds_count", &[("peer", "lab")]).unwrap_or(0.0);
        if lag >= bound || std::time::Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Each lease this server granted was acknowledged by the partner and observed once. (The
    // MACs are fixed, so the RFC 3074 hash sends the same ones to the primary every run.)
    assert!(bound >= 1.0, "the primary served none of the clients");
    let lag_count = get(&m, "xdhcpd_failover_replication_lag_seconds_count", &[("peer", "lab")]).context("lag")?;
    assert!(lag_count >= bound, "{lag_count} replication lag observations for {bound} leases: {m:?}");
    check_histogram(&m, "xdhcpd_failover_replication_lag_seconds", &[("peer", "lab")])?;
    let lag_sum = get(&m, "xdhcpd_failover_replication_lag_seconds_sum", &[("peer", "lab")]).context("lag sum")?;
    eprintln!("replication lag: {lag_count} updates acknowledged, mean {:.2} ms", lag_sum / lag_count * 1e3);
    // Two servers on one machine: an update is acked within a second on average.
    assert!(lag_sum >= 0.0 && lag_sum / lag_count < 1.0, "lag sum {lag_sum} over {lag_count}");
    assert_eq!(get(&m, "xdhcpd_failover_unacked_updates", &[("peer", "lab")]), Some(0.0), "{m:?}");
    // The operator's view of the same numbers.
    let out = std::process::Command::new(xdhcpd_tests::xdhcpd_bin()?)
        .args(["status", "--control-socket"])
        .arg(lab.socket(0))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unacked updates 0, replication lag mean"), "{text}");
    // Leases by state: the clients this server bound are active in pool 0; balancing gave
    // the secondary BACKUP leases.
    assert_eq!(get(&m, "xdhcpd_leases", &[("pool", "0"), ("state", "active")]), Some(4.0), "{m:?}");
    assert!(get(&m, "xdhcpd_leases", &[("pool", "0"), ("state", "backup")]).unwrap_or(0.0) >= 1.0, "{m:?}");
    if bound > 0.0 {
        assert!(get(&m, "xdhcpd_dhcp_messages_sent_total", &[("type", "ack")]).unwrap_or(0.0) >= bound, "{m:?}");
    }
    assert!(get(&m, "xdhcpd_dhcp_messages_received_total", &[("type", "discover")]).unwrap_or(0.0) >= 4.0, "{m:?}");
    check_histogram(&m, "xdhcpd_journal_fsync_duration_seconds", &[])?;
    Ok(())
}

/// A parsed histogram is well formed: buckets non-decreasing in `le`, `+Inf` equal to
/// `_count`, and a non-negative `_sum`.
fn check_histogram(m: &Samples, name: &str, labels: &[(&str, &str)]) -> Result<()> {
    let bucket = format!("{name}_bucket");
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter(|((n, l), _)| *n == bucket && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .filter_map(|((_, l), v)| Some((l.get("le")?.parse::<f64>().ok()?, *v)))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    anyhow::ensure!(buckets.len() >= 2, "{name}: buckets missing");
    anyhow::ensure!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{name}: buckets not cumulative: {buckets:?}");
    let (last_le, last) = buckets.last().copied().unwrap_or_default();
    anyhow::ensure!(last_le.is_infinite(), "{name}: no +Inf bucket");
    let count = get(m, &format!("{name}_count"), labels).context("count")?;
    anyhow::ensure!(last == count, "{name}: +Inf {last} != count {count}");
    let sum = get(m, &format!("{name}_sum"), labels).context("sum")?;
    anyhow::ensure!(sum >= 0.0, "{name}: sum {sum}");
    Ok(())
}

/// The metric families a scrape declares, parsed by prometheus_client: (family name, type,
/// the names of its samples).
fn families(ns: &Netns, addr: &str) -> Result<Vec<(String, String, Vec<String>)>> {
    let script = format!(
        "import json, urllib.request\n\
         from prometheus_client.parser import text_string_to_metric_families\n\
         text = urllib.request.urlopen('http://{addr}/metrics', timeout=5).read().decode()\n\
         print(json.dumps([[f.name, f.type, [s.name for s in f.samples]] for f in text_string_to_metric_families(text)]))\n"
    );
    let out = ns.command("python3").args(["-c", &script]).output()?;
    anyhow::ensure!(out.status.success(), "parser failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).context("parser output")
}

/// contrib/grafana/xdhcpd.json queries only metrics that a running xdhcpd (a failover pair
/// that served clients) exports: each metric name in each panel's and variable's PromQL is a
/// sample name of the scrape, or the sample name a declared family has when it has samples
/// (`_total` of a counter, `_bucket`/`_sum`/`_count` of a histogram: the XDP counters are empty
/// in a binary built without the eBPF program).
#[test]
fn the_grafana_dashboard_queries_only_exported_metrics() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let path = xdhcpd_tests::workspace_root().join("contrib/grafana/xdhcpd.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
    let exprs = xdhcpd_tests::grafana::expressions(&dashboard);
    let mut queried = std::collections::BTreeSet::new();
    for e in &exprs {
        let names = xdhcpd_tests::grafana::metric_names(e).with_context(|| format!("PromQL {e:?}"))?;
        anyhow::ensure!(!names.is_empty() || e.is_empty(), "PromQL selecting no metric: {e:?}");
        queried.extend(names);
    }
    // Every family of the README's list has a panel.
    assert!(queried.len() >= 15, "{} metrics queried: {queried:?}", queried.len());

    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;
    lab.start(0, &["--xdp-mode", "skb", "--xdp-no-pin", "--metrics", "127.0.0.1:9167"])?;
    lab.start(1, &["--xdp-mode", "skb", "--xdp-no-pin"])?;
    lab.wait_state(0, "normal", Some("normal"), std::time::Duration::from_secs(20))?;
    for n in 1..=2u8 {
        let name = format!("g{n}");
        lab.add_client(&name, &format!("52:54:00:00:52:{n:02x}"))?;
        lab.udhcpc(&name)?;
    }
    let fams = families(&lab.srv[0], "127.0.0.1:9167")?;
    let mut exported = std::collections::BTreeSet::new();
    let mut empty = Vec::new();
    for (name, kind, samples) in &fams {
        if samples.is_empty() {
            empty.push(name.clone());
            let names: Vec<String> = match kind.as_str() {
                "counter" => vec![format!("{name}_total")],
                "histogram" => ["_bucket", "_sum", "_count"].iter().map(|s| format!("{name}{s}")).collect(),
                _ => vec![name.clone()],
            };
            exported.extend(names);
        }
        exported.extend(samples.iter().cloned());
    }
    let missing: Vec<&String> = queried.iter().filter(|m| !exported.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics xdhcpd does not export: {missing:?}\nexported: {exported:?}"
    );
    eprintln!(
        "{} metrics queried by {} expressions, all exported; families without samples here: {empty:?}",
        queried.len(),
        exprs.len()
    );
    Ok(())
}
