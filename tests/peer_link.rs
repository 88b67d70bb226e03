//! The secured peer link between two real xdhcpd in namespaces the test creates:
//! HMAC-SHA256 message authentication (`auth-key`), mutual TLS (certificates made at test
//! time with rcgen) and configuration drift. Mismatches must leave the link down with a
//! clear error on both servers.

use anyhow::{Context, Result, bail};
use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::time::{Duration, Instant};
use xdhcpd_tests::pair::{ADDR, PairLab, active_bindings, pair_config};
use xdhcpd_tests::require_root;

/// How long a misconfigured pair is watched: the primary reconnects every 5 s, so this
/// covers at least two attempts.
const WATCH: Duration = Duration::from_secs(12);

/// Server `i`'s lab configuration with `global` prepended and `peer` added to the peer block.
fn config(i: usize, global: &str, peer: &str) -> String {
    let base = pair_config(i, 10, 128, 3, 0);
    let with_peer = base.replacen("failover peer \"lab\" {\n", &format!("failover peer \"lab\" {{\n  {peer}\n"), 1);
    format!("{global}\n{with_peer}")
}

fn key_decl(secret_b64: &str) -> String {
    format!("key peerkey {{ algorithm hmac-sha256; secret \"{secret_b64}\"; }}")
}

fn write_configs(lab: &PairLab, configs: [String; 2]) -> Result<()> {
    for (i, c) in configs.iter().enumerate() {
        std::fs::write(lab.dir.join(format!("s{i}.conf")), c)?;
    }
    Ok(())
}

/// Waits until each server's log has a line containing its needle.
fn wait_logs(lab: &PairLab, needles: [&str; 2], timeout: Duration) -> Result<[String; 2]> {
    let start = Instant::now();
    loop {
        let found: Vec<Option<String>> =
            (0..2).map(|i| lab.server_log(i).into_iter().find(|l| l.contains(needles[i]))).collect();
        if let [Some(a), Some(b)] = found.as_slice() {
            return Ok([a.clone(), b.clone()]);
        }
        if start.elapsed() > timeout {
            bail!(
                "log lines {needles:?} not both seen after {timeout:?}:\nprimary: {:#?}\nsecondary: {:#?}",
                lab.server_log(0),
                lab.server_log(1)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Neither server reaches NORMAL during `WATCH`, and both count refused connections.
fn assert_stays_down(lab: &PairLab) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < WATCH {
        for i in 0..2 {
            let (mine, _) = lab.states(i)?;
            assert_ne!(mine, "normal", "server {i} reached NORMAL over a mismatched link");
            assert!(!lab.status(i)?["relationships"][0]["communicating"].as_bool().unwrap_or(true));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    for i in 0..2 {
        let sec = &lab.status(i)?["relationships"][0]["link_security"];
        assert!(sec["refused_connections"].as_u64().unwrap_or(0) >= 1, "server {i}: {sec}");
        // The text form names the cause too (and `status` exits 1: not NORMAL).
        let out = std::process::Command::new(xdhcpd_tests::xdhcpd_bin()?)
            .args(["status", "--control-socket"])
            .arg(lab.socket(i))
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("link refused"), "server {i}: {text}");
        assert_eq!(out.status.code(), Some(1), "server {i}");
    }
    Ok(())
}

fn start_pair(lab: &mut PairLab) -> Result<()> {
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.start(0, &["--xdp-mode", "off"])
}

fn stop_pair(lab: &mut PairLab) -> Result<()> {
    lab.kill(0)?;
    lab.kill(1)
}

#[test]
fn hmac_same_key_normal_and_mismatches_refused_on_both_sides() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let k1 = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"; // "secretsecretsecretsecret"
    let k2 = "b3RoZXJvdGhlcm90aGVyb3RoZXI="; // "otherotherotherother"
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;

    // Same key: NORMAL/NORMAL, every message signed (a refused one would be counted).
    write_configs(
        &lab,
        [config(0, &key_decl(k1), "auth-key peerkey;"), config(1, &key_decl(k1), "auth-key peerkey;")],
    )?;
    start_pair(&mut lab)?;
    let t = lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(20))?;
    eprintln!("signed link: NORMAL/NORMAL {t:?} after the primary started");
    for i in 0..2 {
        let sec = &lab.status(i)?["relationships"][0]["link_security"];
        assert_eq!(sec["auth_key"], "peerkey");
        assert_eq!(sec["refused_connections"], 0, "server {i}: {sec}");
    }
    stop_pair(&mut lab)?;

    // Different secrets: both servers say the digest failed; the link never carries a STATE.
    // (Fresh lease files, so neither remembers NORMAL.)
    for i in 0..2 {
        let _ = std::fs::remove_file(lab.lease_file(i));
    }
    write_configs(
        &lab,
        [config(0, &key_decl(k1), "auth-key peerkey;"), config(1, &key_decl(k2), "auth-key peerkey;")],
    )?;
    start_pair(&mut lab)?;
    let lines = wait_logs(&lab, ["message-digest check failed", "message-digest check failed"], WATCH)?;
    eprintln!("different keys:\n  {}\n  {}", lines[0], lines[1]);
    assert_stays_down(&lab)?;
    stop_pair(&mut lab)?;

    // Only the secondary keyed: it refuses unsigned messages, the primary learns why.
    for i in 0..2 {
        let _ = std::fs::remove_file(lab.lease_file(i));
    }
    write_configs(&lab, [config(0, "", ""), config(1, &key_decl(k1), "auth-key peerkey;")])?;
    start_pair(&mut lab)?;
    let lines = wait_logs(
        &lab,
        ["the partner signs its messages (message-digest) but no auth-key", "not signed but auth-key \"peerkey\""],
        WATCH,
    )?;
    eprintln!("one side keyed:\n  {}\n  {}", lines[0], lines[1]);
    assert_stays_down(&lab)?;
    Ok(())
}

struct Pki {
    ca: Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Result<Pki> {
        let ca_key = KeyPair::generate()?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        Ok(Pki { ca: p.self_signed(&ca_key)?, ca_key })
    }

    /// A certificate for a failover address, valid for both TLS roles.
    fn issue(&self, ip: &str) -> Result<(String, String)> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(vec![ip.to_string()])?;
        p.distinguished_name.push(DnType::CommonName, format!("xdhcpd {ip}"));
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let cert = p.signed_by(&key, &self.ca, &self.ca_key)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// Writes server `i`'s certificate, key and CA into the lab directory; returns the peer
/// block statements.
fn tls_files(lab: &PairLab, i: usize, issuer: &Pki, trusted: &Pki) -> Result<String> {
    let (cert, key) = issuer.issue(ADDR[i])?;
    let path = |what: &str| lab.dir.join(format!("s{i}-{what}.pem"));
    std::fs::write(path("cert"), cert)?;
    std::fs::write(path("key"), key)?;
    std::fs::write(path("ca"), trusted.ca.pem())?;
    Ok(format!(
        "tls-certificate \"{}\"; tls-key \"{}\"; tls-ca \"{}\";",
        path("cert").display(),
        path("key").display(),
        path("ca").display()
    ))
}

#[test]
fn tls_mutual_authentication_replicates_heals_and_a_foreign_ca_is_refused() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let ca = Pki::new("xdhcpd test CA")?;
    let other = Pki::new("some other CA")?;
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;

    // TLS and message authentication together.
    let k = key_decl("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0");
    let peer = [tls_files(&lab, 0, &ca, &ca)?, tls_files(&lab, 1, &ca, &ca)?];
    write_configs(
        &lab,
        [
            config(0, &k, &format!("{} auth-key peerkey;", peer[0])),
            config(1, &k, &format!("{} auth-key peerkey;", peer[1])),
        ],
    )?;
    start_pair(&mut lab)?;
    let t = lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(20))?;
    eprintln!("TLS + auth-key link: NORMAL/NORMAL {t:?} after the primary started");
    for i in 0..2 {
        let sec = &lab.status(i)?["relationships"][0]["link_security"];
        assert_eq!(sec["tls"], true);
        assert_eq!(sec["auth_key"], "peerkey");
        assert_eq!(sec["refused_connections"], 0, "server {i}: {sec}");
    }
    // A lease granted by either server reaches the other's lease file over the TLS link.
    lab.add_client("c1", "52:54:00:00:31:01")?;
    let (ip, server) = lab.udhcpc("c1")?;
    let granted_by = ADDR.iter().position(|a| *a == server).context("answering server")?;
    let other_side = 1 - granted_by;
    let start = Instant::now();
    while !active_bindings(&lab.leases(other_side)).contains_key(&ip) {
        if start.elapsed() > Duration::from_secs(10) {
            bail!("{ip} (granted by {server}) not replicated:\n{}", lab.leases(other_side));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Cut and heal: both servers reconnect over TLS on their own timers (they may connect
    // to each other at the same moment) and get back to NORMAL.
    let t = lab.cut_and_heal_link()?;
    eprintln!("TLS link healed to NORMAL/NORMAL {t:?} after the link came back");
    for i in 0..2 {
        let sec = &lab.status(i)?["relationships"][0]["link_security"];
        assert_eq!(sec["refused_connections"], 0, "server {i} refused a connection while healing: {sec}");
    }
    stop_pair(&mut lab)?;

    // The secondary's certificate comes from another CA (which it also trusts): each side
    // refuses the other's certificate, both say so, the link stays down.
    for i in 0..2 {
        let _ = std::fs::remove_file(lab.lease_file(i));
    }
    let peer = [tls_files(&lab, 0, &ca, &ca)?, tls_files(&lab, 1, &other, &other)?];
    write_configs(&lab, [config(0, "", &peer[0]), config(1, "", &peer[1])])?;
    start_pair(&mut lab)?;
    let lines =
        wait_logs(&lab, ["TLS handshake with the partner failed", "TLS handshake with the partner failed"], WATCH)?;
    eprintln!("foreign CA:\n  {}\n  {}", lines[0], lines[1]);
    assert_stays_down(&lab)?;
    stop_pair(&mut lab)?;

    // TLS on the primary only: the secondary names TLS bytes on its plain link, the primary
    // its failed handshake.
    for i in 0..2 {
        let _ = std::fs::remove_file(lab.lease_file(i));
    }
    let peer0 = tls_files(&lab, 0, &ca, &ca)?;
    write_configs(&lab, [config(0, "", &peer0), config(1, "", "")])?;
    start_pair(&mut lab)?;
    let lines =
        wait_logs(&lab, ["the partner does not speak TLS", "the partner speaks TLS but no tls-certificate"], WATCH)?;
    eprintln!("TLS on one side:\n  {}\n  {}", lines[0], lines[1]);
    assert_stays_down(&lab)?;
    Ok(())
}

#[test]
fn configuration_drift_is_named_in_status_on_both_sides() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let secondary =
        pair_config(1, 10, 128, 3, 0).replacen("range 198.18.0.100 198.18.0.199", "range 198.18.0.100 198.18.0.150", 1);
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), secondary])?;
    start_pair(&mut lab)?;
    let want = "pool 198.18.0.0/24 ranges differs";
    let start = Instant::now();
    for i in 0..2 {
        loop {
            let v = lab.status(i)?;
            let drift = &v["relationships"][0]["config_drift"];
            if drift.as_array().is_some_and(|d| d.iter().any(|s| s == want)) {
                assert_eq!(drift.as_array().map(Vec::len), Some(1), "only the range differs: {drift}");
                break;
            }
            if start.elapsed() > Duration::from_secs(20) {
                bail!("server {i}: no drift reported: {drift}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    wait_logs(
        &lab,
        ["configuration differs from the partner's: pool", "configuration differs from the partner's: pool"],
        WATCH,
    )?;
    // The text form names it too.
    let bin = xdhcpd_tests::xdhcpd_bin()?;
    let out = std::process::Command::new(bin).args(["status", "--control-socket"]).arg(lab.socket(1)).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(want), "{text}");
    Ok(())
}
