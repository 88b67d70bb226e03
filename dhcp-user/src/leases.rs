//! `xdhcpd leases`: list and filter leases, as `dhcp-lease-list` or an omshell lookup would,
//! from a running server (control socket, the server's memory) or offline from a lease file.
//!
//! Both sources go through [`Row`]: the live path converts the store's leases with the same
//! `to_record` the lease file is written with, so both show the same thing for a lease.

use crate::dhcp::config::EngineConfig;
use dhcp_journal::LeaseRecord;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// One lease as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub ip: Ipv4Addr,
    /// The binding state as dhcpd.leases names it (`active`, `free`, `backup`, ...).
    pub state: String,
    /// Hardware address, `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// Client identifier (option 61), hex.
    pub client_id: Option<String>,
    pub hostname: Option<String>,
    /// Unix seconds; `None` when not recorded.
    pub starts: Option<u32>,
    /// Unix seconds; `None` for an infinite lease, 0 when not set (a free address).
    pub ends: Option<u32>,
    /// Pool id as `xdhcpd status` numbers pools; `None` when no configuration says.
    pub pool: Option<u32>,
}

impl Row {
    pub fn from_record(r: &LeaseRecord, pool: Option<u32>) -> Row {
        Row {
            ip: r.ip,
            state: r.binding_state.name().to_string(),
            mac: r.hardware.as_ref().map(|(_, hw)| hw.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")),
            client_id: r.uid.as_ref().map(hex::encode),
            hostname: r.client_hostname.clone(),
            starts: r.starts,
            ends: r.ends,
            pool,
        }
    }
}

/// What to list. Every field set must match (AND); an empty filter lists everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Binding state name, e.g. `active`.
    pub state: Option<String>,
    /// One address, or a network `A.B.C.D/N`.
    pub ip: Option<String>,
    /// Hardware address, any case, `:` or `-` separated.
    pub mac: Option<String>,
    /// Client identifier, hex (`:` separators allowed).
    pub client_id: Option<String>,
    pub pool: Option<u32>,
    /// Substring of the client's hostname, case-insensitive.
    pub hostname: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("--ip {0:?}: expected an IPv4 address or A.B.C.D/N")]
    Ip(String),
    #[error("--state {0:?}: not a binding state (active, free, backup, expired, released, abandoned, reset)")]
    State(String),
}

/// The canonical form of a hex-ish identifier: lowercase hex digits only.
fn hex_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_hexdigit).map(|c| c.to_ascii_lowercase()).collect()
}

impl Filter {
    /// Reject what cannot match anything, so that a typo is an error and not an empty list.
    pub fn validate(&self) -> Result<(), FilterError> {
        if let Some(ip) = &self.ip {
            parse_net(ip).ok_or_else(|| FilterError::Ip(ip.clone()))?;
        }
        if let Some(s) = &self.state
            && crate::lease::BindingState::from_name(s.to_ascii_lowercase().as_bytes()).is_none()
        {
            return Err(FilterError::State(s.clone()));
        }
        Ok(())
    }

    pub fn matches(&self, r: &Row) -> bool {
        self.state.as_ref().is_none_or(|s| s.eq_ignore_ascii_case(&r.state))
            && self.ip.as_ref().is_none_or(|n| parse_net(n).is_some_and(|(a, len)| in_net(r.ip, a, len)))
            && self.mac.as_ref().is_none_or(|m| r.mac.as_ref().is_some_and(|x| hex_digits(x) == hex_digits(m)))
            && self
                .client_id
                .as_ref()
                .is_none_or(|c| r.client_id.as_ref().is_some_and(|x| hex_digits(x) == hex_digits(c)))
            && self.pool.is_none_or(|p| r.pool == Some(p))
            && self
                .hostname
                .as_ref()
                .is_none_or(|h| r.hostname.as_ref().is_some_and(|x| x.to_lowercase().contains(&h.to_lowercase())))
    }
}

/// `A.B.C.D` (a /32) or `A.B.C.D/N`.
fn parse_net(s: &str) -> Option<(Ipv4Addr, u8)> {
    match s.split_once('/') {
        None => s.parse().ok().map(|a| (a, 32)),
        Some((a, n)) => {
            let len: u8 = n.parse().ok()?;
            (len <= 32).then_some(())?;
            Some((a.parse().ok()?, len))
        }
    }
}

fn in_net(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// The pool of `ip` under `cfg`, numbered as `xdhcpd status` does.
pub fn pool_of(cfg: &EngineConfig, ip: Ipv4Addr) -> Option<u32> {
    cfg.networks.iter().find_map(|n| {
        n.pools
            .iter()
            .position(|p| p.ranges.iter().any(|(a, b)| (*a..=*b).contains(&ip)))
            .map(|i| n.first_pool_id + i as u32)
    })
}

/// The leases of a dhcpd.leases text (the last record of each address), filtered, by address.
/// Read-only: the file of a running server can be listed safely.
pub fn from_lease_file(bytes: &[u8], cfg: Option<&EngineConfig>, filter: &Filter) -> Vec<Row> {
    let parsed = dhcp_journal::parse::parse(bytes);
    let state = dhcp_journal::record::fold(parsed.entries);
    let mut rows: Vec<Row> = state
        .leases
        .iter()
        .map(|r| Row::from_record(r, cfg.and_then(|c| pool_of(c, r.ip))))
        .filter(|r| filter.matches(r))
        .collect();
    rows.sort_by_key(|r| r.ip);
    rows
}

/// A Unix time as dhcpd writes it (`YYYY/MM/DD HH:MM:SS`, UTC); `never` for `None`, `-` for 0
/// (not set: a free address has no end, which is not the same as an infinite lease).
fn when(t: Option<u32>, never: &str) -> String {
    let Some(t) = t else { return never.to_string() };
    if t == 0 {
        return "-".to_string();
    }
    let (days, secs) = (i64::from(t) / 86_400, i64::from(t) % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// A text table, one lease a line, with a header.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<15} {:<9} {:<17} {:<20} {:<4} {:<19} {:<19} {}\n",
        "IP", "STATE", "MAC", "CLIENT-ID", "POOL", "STARTS (UTC)", "ENDS (UTC)", "HOSTNAME"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<15} {:<9} {:<17} {:<20} {:<4} {:<19} {:<19} {}\n",
            r.ip.to_string(),
            r.state,
            r.mac.as_deref().unwrap_or("-"),
            r.client_id.as_deref().unwrap_or("-"),
            r.pool.map_or("-".to_string(), |p| p.to_string()),
            when(r.starts, "-"),
            when(r.ends, "never"),
            r.hostname.as_deref().unwrap_or("-")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "lease 198.18.0.100 {\n  starts 4 2026/12/03 10:00:00;\n  ends 4 2026/12/03 11:00:00;\n  binding state active;\n  hardware ethernet 52:54:00:00:40:01;\n  uid \"\\001RT\\000\\000@\\001\";\n  client-hostname \"Printer-1\";\n}\n\
lease 198.18.0.101 {\n  binding state free;\n}\n\
lease 198.18.0.100 {\n  starts 4 2026/12/03 10:30:00;\n  ends 4 2026/12/03 11:30:00;\n  binding state active;\n  hardware ethernet 52:54:00:00:40:01;\n  uid \"\\001RT\\000\\000@\\001\";\n  client-hostname \"Printer-1\";\n}\n\
lease 198.18.1.7 {\n  starts 4 2026/12/03 09:00:00;\n  ends 4 2026/12/03 09:10:00;\n  binding state expired;\n  hardware ethernet 52:54:00:00:40:02;\n}\n";

    fn list(f: Filter) -> Vec<Ipv4Addr> {
        from_lease_file(FILE.as_bytes(), None, &f).into_iter().map(|r| r.ip).collect()
    }

    #[test]
    fn the_last_record_of_each_address_is_listed() {
        let rows = from_lease_file(FILE.as_bytes(), None, &Filter::default());
        assert_eq!(rows.len(), 3);
        let r = &rows[0];
        assert_eq!(r.ip, Ipv4Addr::new(198, 18, 0, 100));
        assert_eq!(r.state, "active");
        assert_eq!(r.mac.as_deref(), Some("52:54:00:00:40:01"));
        assert_eq!(r.client_id.as_deref(), Some("01525400004001"));
        assert_eq!(r.hostname.as_deref(), Some("Printer-1"));
        // The second record of .100 (starts 10:30) wins.
        assert_eq!(when(r.starts, "-"), "2026/12/03 10:30:00");
    }

    #[test]
    fn each_filter_selects() {
        let a100 = Ipv4Addr::new(198, 18, 0, 100);
        let a101 = Ipv4Addr::new(198, 18, 0, 101);
        let a1_7 = Ipv4Addr::new(198, 18, 1, 7);
        assert_eq!(list(Filter { state: Some("active".into()), ..Default::default() }), [a100]);
        assert_eq!(list(Filter { state: Some("FREE".into()), ..Default::default() }), [a101]);
        assert_eq!(list(Filter { ip: Some("198.18.1.0/24".into()), ..Default::default() }), [a1_7]);
        assert_eq!(list(Filter { ip: Some("198.18.0.101".into()), ..Default::default() }), [a101]);
        assert_eq!(list(Filter { mac: Some("52-54-00-00-40-02".into()), ..Default::default() }), [a1_7]);
        assert_eq!(list(Filter { client_id: Some("01:52:54:00:00:40:01".into()), ..Default::default() }), [a100]);
        assert_eq!(list(Filter { hostname: Some("printer".into()), ..Default::default() }), [a100]);
        // Filters combine (AND).
        assert!(
            list(Filter { hostname: Some("printer".into()), state: Some("free".into()), ..Default::default() })
                .is_empty()
        );
    }

    #[test]
    fn pools_come_from_the_configuration() {
        let text = "subnet 198.18.0.0 netmask 255.255.255.0 { range 198.18.0.100 198.18.0.199; }\n\
                    subnet 198.18.1.0 netmask 255.255.255.0 { range 198.18.1.1 198.18.1.50; }\n";
        let mut files = dhcp_config::MemoryLoader::default();
        files.insert("/t/dhcpd.conf", text);
        let parsed = dhcp_config::parse_str("/t/dhcpd.conf", text, &files).expect("config");
        let cfg = crate::conf::engine_config(&parsed.config);
        let rows = from_lease_file(FILE.as_bytes(), Some(&cfg), &Filter { pool: Some(1), ..Default::default() });
        assert_eq!(rows.iter().map(|r| r.ip).collect::<Vec<_>>(), [Ipv4Addr::new(198, 18, 1, 7)]);
        assert_eq!(pool_of(&cfg, Ipv4Addr::new(198, 18, 0, 150)), Some(0));
        assert_eq!(pool_of(&cfg, Ipv4Addr::new(198, 18, 2, 1)), None);
    }

    #[test]
    fn a_filter_that_cannot_match_is_an_error() {
        let bad_ip = Filter { ip: Some("198.18.0.300".into()), ..Default::default() };
        assert_eq!(bad_ip.validate(), Err(FilterError::Ip("198.18.0.300".into())));
        let bad_state = Filter { state: Some("bound".into()), ..Default::default() };
        assert_eq!(bad_state.validate(), Err(FilterError::State("bound".into())));
        assert_eq!(Filter { ip: Some("198.18.0.0/15".into()), ..Default::default() }.validate(), Ok(()));
    }

    #[test]
    fn the_table_has_a_line_per_lease() {
        let rows = from_lease_file(FILE.as_bytes(), None, &Filter::default());
        let t = table(&rows);
        assert_eq!(t.lines().count(), 4, "{t}");
        assert!(t.lines().nth(1).is_some_and(|l| l.starts_with("198.18.0.100") && l.contains("Printer-1")), "{t}");
        assert!(t.lines().nth(2).is_some_and(|l| l.contains("free") && l.contains(" - ")), "{t}");
        // A free address has no end time: shown as "-", neither "never" nor the epoch.
        assert!(t.lines().nth(2).is_some_and(|l| !l.contains("1970") && !l.contains("never")), "{t}");
        assert_eq!(when(Some(0), "never"), "-");
        assert_eq!(when(None, "never"), "never");
        assert_eq!(when(Some(1_733_227_200), "never"), "2024/12/03 12:00:00");
    }
}
