//! A test or bench stopped by a signal removes its network namespaces (and what runs in
//! them) although its guards never drop.

use std::process::Command;
use std::time::{Duration, Instant};
use xdhcpd_tests::netns::{Netns, sh};

const CHILD: &str = "a_namespace_holder_that_waits_for_its_signal";

/// Run only as the child of the test below: makes a namespace with a process inside, says
/// its name, and waits to be stopped.
#[test]
#[ignore = "the child of stopped_by_a_signal_removes_its_namespaces"]
fn a_namespace_holder_that_waits_for_its_signal() {
    let ns = Netns::new("sig").expect("namespace");
    let mut sleeper = ns.command("sleep").arg("60").spawn().expect("a process inside");
    println!("NETNS {}", ns.name);
    std::thread::sleep(Duration::from_secs(30));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn stopped_by_a_signal_removes_its_namespaces() {
    for sig in ["TERM", "INT"] {
        let exe = std::env::current_exe().expect("test binary");
        let mut child = Command::new(exe)
            .args(["--ignored", "--exact", CHILD, "--nocapture", "--test-threads", "1"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("child");
        // Its namespace's name, from its first line.
        let stdout = child.stdout.take().expect("stdout");
        let name = std::thread::spawn(move || {
            use std::io::BufRead;
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                // The harness may print "test NAME ... " ahead of it on the same line.
                .find_map(|l| l.split_once("NETNS ").map(|(_, n)| n.trim().to_string()))
        })
        .join()
        .ok()
        .flatten()
        .expect("the child names its namespace");
        // Should this test fail, the child and its namespace still go.
        let _leftovers = Leftovers { pid: child.id(), ns: name.clone() };
        let listed = |n: &str| sh(&["ip", "netns", "list"]).unwrap_or_default().split_whitespace().any(|w| w == n);
        assert!(listed(&name), "{name} exists while the child runs");
        let pids = sh(&["ip", "netns", "pids", &name]).unwrap_or_default();
        assert!(!pids.trim().is_empty(), "a process runs in {name}");
        sh(&["kill", &format!("-{sig}"), &child.id().to_string()]).expect("signal");
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "the child did not stop on SIG{sig}");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(!status.success(), "SIG{sig} ends the child with a failure status ({status})");
        assert!(!listed(&name), "SIG{sig}: {name} was left behind");
    }
}

struct Leftovers {
    pid: u32,
    ns: String,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let _ = sh(&["kill", "-9", &self.pid.to_string()]);
        if let Ok(pids) = sh(&["ip", "netns", "pids", &self.ns]) {
            for pid in pids.split_whitespace() {
                let _ = sh(&["kill", "-9", pid]);
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).stderr(std::process::Stdio::null()).status();
    }
}
