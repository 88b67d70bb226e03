//! `get-lease-hostnames`: the reverse DNS names of the addresses the engine leases, looked
//! up with the system resolver (getnameinfo: /etc/hosts, then DNS, as nsswitch.conf says).
//!
//! dhcpd calls gethostbyaddr while it builds each OFFER and ACK, so a slow DNS server
//! stalls its whole answer loop. xdhcpd looks the names up here, on a thread of its own:
//! every address of the pools (and fixed addresses of the hosts) whose scope turns the
//! statement on, at start, after a reload and every hour, a few lookups at a time; the
//! engine reads the last answers ([`Engine::set_lease_names`]). So no lookup delays an
//! answer; a name is at most an hour old, and an address with no name gets none, as in
//! dhcpd. At most [`MAX_ADDRESSES`] addresses are looked up (a larger pool is named in
//! part, and the log says so).

use crate::dhcp::{Engine, LeaseNames};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most addresses looked up per round.
pub const MAX_ADDRESSES: usize = 65_536;
/// Lookups at once.
const PARALLEL: usize = 8;
/// How often the names are looked up again.
const REFRESH: Duration = Duration::from_secs(3600);

/// The name the system resolver gives `ip` (the canonical one, as gethostbyaddr's
/// h_name), without a trailing dot; `None` if it has none.
pub fn reverse_lookup(ip: Ipv4Addr) -> Option<String> {
    // SAFETY: a zeroed sockaddr_in is valid; getnameinfo writes at most `host.len()`
    // bytes (NUL included) into `host` and reads `sizeof(sockaddr_in)` from `sa`.
    unsafe {
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr = libc::in_addr { s_addr: u32::from(ip).to_be() };
        let mut host = [0 as libc::c_char; 1025];
        let rc = libc::getnameinfo(
            &sa as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        );
        if rc != 0 {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(host.as_ptr()).to_string_lossy();
        let name = name.trim_end_matches('.');
        (!name.is_empty()).then(|| name.to_string())
    }
}

/// The names of `addrs`, looked up `PARALLEL` at a time.
pub fn lookup_all(addrs: &[Ipv4Addr]) -> LeaseNames {
    let chunk = addrs.len().div_ceil(PARALLEL).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = addrs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .filter_map(|ip| reverse_lookup(*ip).map(|n| (*ip, n.into_boxed_str())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).flatten().collect()
    })
}

/// Looks the names up now, then again after each reload and every hour, while the
/// process runs (a configuration that never turns the statement on looks nothing up).
pub fn spawn(engine: Arc<Engine>) -> anyhow::Result<()> {
    std::thread::Builder::new().name("lease-names".into()).spawn(move || run(&engine))?;
    Ok(())
}

fn run(engine: &Engine) {
    let mut looked_at: Option<(Arc<crate::dhcp::EngineConfig>, Instant)> = None;
    loop {
        let cfg = engine.config();
        let due = match &looked_at {
            None => true,
            Some((seen, when)) => !Arc::ptr_eq(seen, &cfg) || when.elapsed() >= REFRESH,
        };
        if due {
            let addrs = cfg.lease_name_addresses(MAX_ADDRESSES + 1);
            if addrs.len() > MAX_ADDRESSES {
                tracing::warn!(
                    "get-lease-hostnames: more than {MAX_ADDRESSES} addresses; the first {MAX_ADDRESSES} are named"
                );
            }
            let addrs = addrs.get(..MAX_ADDRESSES.min(addrs.len())).unwrap_or_default();
            if !addrs.is_empty() {
                let started = Instant::now();
                let names = lookup_all(addrs);
                tracing::info!(
                    addresses = addrs.len(),
                    named = names.len(),
                    secs = started.elapsed().as_secs_f64(),
                    "get-lease-hostnames: reverse DNS names looked up"
                );
                engine.set_lease_names(names);
            } else {
                engine.set_lease_names(LeaseNames::new());
            }
            looked_at = Some((cfg, Instant::now()));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_address_has_a_name_looked_up_once() {
        // /etc/hosts names 127.0.0.1 on every machine this runs on.
        assert!(reverse_lookup(Ipv4Addr::LOCALHOST).is_some());
        let names = lookup_all(&[Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST]);
        assert_eq!(names.len(), 1);
    }
}
