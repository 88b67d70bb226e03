//! Host names written where dhcpd.conf takes an address (`fixed-address`, address
//! options, `next-server`, `server-identifier`), looked up with the system resolver
//! (getaddrinfo: /etc/hosts, then DNS, as nsswitch.conf says), and the names of the
//! `gethostbyname ("NAME")` operands of expressions.
//!
//! dhcpd looks these names up when it evaluates them for a client and keeps an answer
//! for an hour (a failure for a minute). xdhcpd looks them up when it loads the
//! configuration (start and every reload) and again on the same schedule
//! (`Reloader::refresh_names_logged`), off the path of requests: no lookup ever delays
//! an answer. A name that does not resolve adds no address, as in dhcpd (see
//! `dhcp_config::Config::resolve_names`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The IPv4 addresses of `name`, in the resolver's order, without repeats.
pub fn system_lookup(name: &str) -> Result<Vec<Ipv4Addr>, String> {
    let addrs = (name, 0u16).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut out: Vec<Ipv4Addr> = Vec::new();
    for a in addrs {
        if let SocketAddr::V4(v4) = a
            && !out.contains(v4.ip())
        {
            out.push(*v4.ip());
        }
    }
    Ok(out)
}

/// How long the lookups of one pass may take in all: a configuration of thousands of
/// hosts written by name (corpus 049) must neither hold a start, a reload or `--check` for
/// minutes nor wait on a resolver that does not answer. A name not answered by then counts
/// as not resolving, and is looked up again in a minute.
pub const LOOKUP_BOUND: Duration = Duration::from_secs(10);
/// Lookups in flight at once.
const LOOKUP_THREADS: usize = 32;

/// The system resolver asked for every host name of `config` at once (on up to
/// `LOOKUP_THREADS` threads, at most `within` in all), as a lookup answering from those
/// results for [`dhcp_config::Config::resolve_names`]. getaddrinfo cannot be cancelled: a
/// lookup still running at the bound finishes on its own thread, its answer unused.
pub fn system_lookup_all(
    config: &dhcp_config::Config,
    within: Duration,
) -> impl FnMut(&str) -> Result<Vec<Ipv4Addr>, String> + use<> {
    let mut names: Vec<String> = Vec::new();
    config.clone().resolve_names(&mut |n: &str| {
        names.push(n.to_string());
        Err(String::new())
    });
    for n in config.host_lookup_names() {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let answers = lookup_all(names, LOOKUP_THREADS, within);
    move |name: &str| {
        answers
            .get(name)
            .cloned()
            .unwrap_or_else(|| Err(format!("no answer from the resolver within {} s", within.as_secs())))
    }
}

/// `names` looked up with [`system_lookup`] on `threads` threads; what is answered within
/// `within`.
fn lookup_all(names: Vec<String>, threads: usize, within: Duration) -> HashMap<String, Result<Vec<Ipv4Addr>, String>> {
    let deadline = Instant::now() + within;
    let names = Arc::new(names);
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..threads.min(names.len()) {
        let (names, next, tx) = (Arc::clone(&names), Arc::clone(&next), tx.clone());
        let spawned = std::thread::Builder::new().name("resolve".into()).spawn(move || {
            while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                if Instant::now() >= deadline || tx.send((name.clone(), system_lookup(name))).is_err() {
                    return;
                }
            }
        });
        if spawned.is_err() {
            break;
        }
    }
    drop(tx);
    let mut out = HashMap::new();
    while out.len() < names.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((name, answer)) => {
                out.insert(name, answer);
            }
            Err(_) => break,
        }
    }
    out
}

/// Looks up the configuration's host names with the system resolver; logs each name
/// that does not resolve (dhcpd logs "NAME: host unknown." when it tries) and returns
/// how many did not.
pub fn resolve_logged(config: &mut dhcp_config::Config) -> usize {
    if !config.has_names() {
        return 0;
    }
    let mut lookup = system_lookup_all(config, LOOKUP_BOUND);
    let mut failures = config.resolve_names(&mut lookup);
    failures.extend(config.resolve_host_lookups(&mut lookup));
    for f in &failures {
        tracing::warn!(
            "{}: host unknown ({}); it adds no address (as in dhcpd) until it resolves; looked up again in a minute",
            f.name,
            f.reason
        );
    }
    failures.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_through_the_system() {
        // /etc/hosts names localhost on every machine this runs on.
        let a = system_lookup("localhost").expect("localhost");
        assert!(a.contains(&Ipv4Addr::LOCALHOST), "{a:?}");
        assert!(system_lookup("no-such-host.invalid").is_err());
    }

    /// Many names at once, each answered once; what is not answered within the bound is
    /// missing, never waited for.
    #[test]
    fn many_names_are_looked_up_at_once_and_bounded() {
        let names: Vec<String> =
            (0..40).map(|_| "localhost".to_string()).chain(["no-such-host.invalid".into()]).collect();
        let got = lookup_all(names, 8, Duration::from_secs(30));
        assert!(got.get("localhost").is_some_and(|a| a.as_ref().is_ok_and(|a| a.contains(&Ipv4Addr::LOCALHOST))));
        assert!(got.get("no-such-host.invalid").is_some_and(|a| a.is_err()));
        let none = lookup_all(vec!["localhost".into()], 1, Duration::ZERO);
        assert!(none.is_empty(), "a zero bound waits for nothing");
    }
}
