//! A failover state that cannot be written to the lease file is never acted on: the server
//! holds (no service on the relationship's pools, nothing sent to the partner) until the
//! write succeeds, then resumes. Real processes: a pair of xdhcpd and udhcpc as the client.
//! The secondary's writes are made to fail with a file-size limit (`prlimit --fsize` at the
//! lease file's current size: every append then fails with EFBIG), lifted later.

use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};
use xdhcpd_tests::pair::{ADDR, PairLab, pair_config};
use xdhcpd_tests::require_root;

/// Sets the soft file-size limit of process `pid` (`None`: unlimited).
fn fsize_limit(pid: u32, bytes: Option<u64>) -> Result<()> {
    let soft = bytes.map(|b| b.to_string()).unwrap_or_else(|| "unlimited".into());
    let st = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={soft}:unlimited")])
        .status()
        .context("running prlimit (util-linux)")?;
    if !st.success() {
        bail!("prlimit --fsize={soft} on {pid} failed");
    }
    Ok(())
}

fn relationship(lab: &PairLab, i: usize) -> Result<serde_json::Value> {
    Ok(lab.status(i)?["relationships"][0].clone())
}

/// udhcpc's whole output for one short attempt (no lease expected to be needed).
fn udhcpc_output(lab: &PairLab, iface: &str) -> Result<String> {
    let out = lab
        .cli
        .command("timeout")
        .args(["15", "udhcpc", "-f", "-q", "-n", "-t", "3", "-T", "1", "-i", iface, "-s", "/bin/true"])
        .output()?;
    Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_state_change_that_cannot_be_written_is_not_acted_on() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    // A write beyond the limit must fail with EFBIG rather than kill the server: an ignored
    // SIGXFSZ is inherited by the servers this test starts.
    // SAFETY: setting a signal disposition to SIG_IGN, before any child is started.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let mut lab = PairLab::new([pair_config(0, 30, 128, 3, 0), pair_config(1, 30, 128, 3, 0)])?;
    lab.start(0, &["--xdp-mode", "off"])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(30))?;

    // The secondary's lease file can no longer grow; then the primary dies, so the secondary
    // must move to COMMUNICATIONS-INTERRUPTED and write it down.
    let secondary = lab.servers[1].as_ref().context("secondary running")?.pid();
    let size = std::fs::metadata(lab.lease_file(1))?.len();
    fsize_limit(secondary, Some(size))?;
    lab.kill(0)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let held = loop {
        let r = relationship(&lab, 1)?;
        if r["my_state"] == "communications-interrupted" && r["state_written"] == false {
            break r;
        }
        if Instant::now() > deadline {
            bail!("secondary never held its unwritten state: {r}\n{}", lab.server_log(1).join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(held["service"], "None", "no service while the state is not durable: {held}");
    assert!(
        lab.server_log(1).iter().any(|l| l.contains("could not write state")),
        "the hold is logged:\n{}",
        lab.server_log(1).join("\n")
    );
    lab.add_client("c1", "52:54:00:00:07:01")?;
    let text = udhcpc_output(&lab, "c1")?;
    assert!(!text.contains("sending select"), "no OFFER while the state is not durable:\n{text}");
    assert!(!lab.leases(1).contains("my state communications-interrupted"), "{}", lab.leases(1));

    // The limit lifted: the retry writes the state, and service resumes.
    fsize_limit(secondary, None)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = relationship(&lab, 1)?;
        if r["state_written"] == true {
            assert_eq!(r["service"], "NotCooperating", "{r}");
            break;
        }
        if Instant::now() > deadline {
            bail!("state never written after the disk had room again: {r}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ip, server) = lab.udhcpc("c1").context("a lease once the state is written")?;
    assert_eq!(server, ADDR[1]);
    assert!(ip.starts_with("198.18.0."), "{ip}");
    assert!(lab.leases(1).contains("my state communications-interrupted"), "{}", lab.leases(1));
    Ok(())
}
