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
    Ok(())
}
