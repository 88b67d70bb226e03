//! dhcpd.conf's `db-time-format local`: lease file times written as `epoch N; # date`,
//! the date in local time. The time zone is the system's (TZ, /etc/localtime), read
//! through the C library, which is IO: it lives here, and `dhcp_journal` is handed the
//! formatting function.

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `t` in local time as dhcpd writes it after `#` (strftime `%a %b %d %H:%M:%S %Y` in
/// the C locale, which dhcpd runs in).
pub fn local_date(t: u32) -> String {
    let secs = libc::time_t::from(t);
    // SAFETY: `tm` is a plain C struct for which all zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe form.
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    if !ok {
        return String::new();
    }
    let day = usize::try_from(tm.tm_wday).ok().and_then(|i| DAYS.get(i)).copied().unwrap_or("???");
    let month = usize::try_from(tm.tm_mon).ok().and_then(|i| MONTHS.get(i)).copied().unwrap_or("???");
    format!(
        "{day} {month} {:02} {:02}:{:02}:{:02} {}",
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// Puts the configuration's `db-time-format` in force for the lease file writer.
pub fn apply(config: &dhcp_config::Config) {
    dhcp_journal::set_db_time_format(config.db_time_format_local.then_some(local_date as fn(u32) -> String));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_of_the_local_date() {
        // dhcpd wrote "# Mon Dec 07 01:50:39 2026" for 1796608239 in a zone at UTC: the
        // day of the month has two digits.
        // Whatever the machine's zone: "Www Mmm DD HH:MM:SS YYYY".
        let d = local_date(1_795_610_435);
        let parts: Vec<&str> = d.split(' ').collect();
        assert_eq!(parts.len(), 5, "{d}");
        assert!(DAYS.contains(&parts[0]) && MONTHS.contains(&parts[1]), "{d}");
        assert_eq!(parts[2].len(), 2, "{d}");
        assert_eq!(parts[3].len(), 8, "{d}");
        assert!(parts[4] == "2026", "{d}");
    }
}
