//! Host names written where dhcpd.conf takes an address (`fixed-address`, address
//! options, `next-server`, `server-identifier`), looked up with the system resolver
//! (getaddrinfo: /etc/hosts, then DNS, as nsswitch.conf says).
//!
//! dhcpd looks these names up when it evaluates them for a client and keeps an answer
//! for an hour (a failure for a minute). xdhcpd looks them up when it loads the
//! configuration (start and every reload) and again on the same schedule
//! (`Reloader::refresh_names_logged`), off the path of requests: no lookup ever delays
//! an answer. A name that does not resolve adds no address, as in dhcpd (see
//! `dhcp_config::Config::resolve_names`).

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

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

/// Looks up the configuration's host names with the system resolver; logs each name
/// that does not resolve (dhcpd logs "NAME: host unknown." when it tries) and returns
/// how many did not.
pub fn resolve_logged(config: &mut dhcp_config::Config) -> usize {
    if !config.has_names() {
        return 0;
    }
    let failures = config.resolve_names(&mut system_lookup);
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
}
