//! Network namespaces and veth pairs that remove themselves on drop.

use anyhow::{Context, Result, bail};
use std::process::Command;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A short unique name (interface names are limited to 15 bytes): `<prefix><pid%10000><seq>`.
pub fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}{n}", std::process::id() % 10000)
}

/// Run a command, failing with its stderr.
pub fn sh(args: &[&str]) -> Result<String> {
    let (cmd, rest) = args.split_first().context("empty command")?;
    let out = Command::new(cmd).args(rest).output().with_context(|| format!("running {args:?}"))?;
    if !out.status.success() {
        bail!("{args:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The namespaces this process has made and not yet removed.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The stop signal received (0: none).
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

fn live() -> std::sync::MutexGuard<'static, Vec<String>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A test or bench stopped by SIGINT, SIGTERM or SIGHUP (by hand, or by a timeout) never runs
/// its guards' `drop`: without this its namespaces, and the servers inside them, would stay.
/// On such a signal every namespace still alive is removed, then the process exits
/// 128 + signal, as the signal would have ended it.
fn remove_all_on_stop_signals() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: the action only stores to an atomic, which is async-signal-safe.
            let registered =
                unsafe { signal_hook_registry::register(sig, move || STOPPED_BY.store(sig, Ordering::SeqCst)) };
            if let Err(e) = registered {
                eprintln!("netns: cannot watch signal {sig} ({e}): a stop by it leaves namespaces behind");
            }
        }
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let sig = STOPPED_BY.load(Ordering::SeqCst);
                if sig != 0 {
                    let names = live().clone();
                    for name in names.iter().rev() {
                        remove(name);
                    }
                    eprintln!("stopped by signal {sig}: removed {} network namespace(s)", names.len());
                    std::process::exit(128 + sig);
                }
            }
        });
    });
}

/// Kill anything still running inside `name`, then delete it; both best effort.
fn remove(name: &str) {
    if let Ok(pids) = sh(&["ip", "netns", "pids", name]) {
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).status();
}

/// A network namespace, deleted (with everything in it) on drop, or when the process is
/// stopped by a signal ([`remove_all_on_stop_signals`]).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(prefix: &str) -> Result<Netns> {
        remove_all_on_stop_signals();
        let name = unique(prefix);
        sh(&["ip", "netns", "add", &name])?;
        live().push(name.clone());
        let ns = Netns { name };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Run a command inside the namespace and wait for it.
    pub fn exec(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// A `Command` that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
        live().retain(|n| *n != self.name);
    }
}

/// Connect two namespaces with a veth pair `a_if` (in `a`) — `b_if` (in `b`), both up,
/// with the given addresses (CIDR) if any.
pub fn veth(a: &Netns, a_if: &str, a_addr: Option<&str>, b: &Netns, b_if: &str, b_addr: Option<&str>) -> Result<()> {
    sh(&["ip", "link", "add", a_if, "netns", &a.name, "type", "veth", "peer", "name", b_if, "netns", &b.name])?;
    for (ns, ifname, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        if let Some(addr) = addr {
            ns.exec(&["ip", "addr", "add", addr, "dev", ifname])?;
        }
        ns.exec(&["ip", "link", "set", ifname, "up"])?;
    }
    Ok(())
}

/// Run `f` on a thread that has entered namespace `ns` (setns is per thread).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || -> Result<T> {
        let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        use std::os::fd::AsRawFd;
        // SAFETY: valid fd of a network namespace file; affects only this thread.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("setns({path}): {}", std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("netns thread panicked"))?
}
