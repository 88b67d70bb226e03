//! Serializer: records to bytes in dhcpd 4.4's `dhcpd.leases` layout (pure, no IO).
//!
//! Layout facts (digest §7.2): statements are indented by two spaces, each record ends
//! with `}` and a newline, a failover state block is preceded by an empty line, times are
//! `W YYYY/MM/DD HH:MM:SS;` in UTC (W = weekday, 0 = Sunday), or `epoch N; # date` with
//! dhcpd's `db-time-format local` ([`set_db_time_format`]).

use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::date::gmtime;
use crate::record::{Entry, FailoverStateRecord, HostRecord, LeaseRecord};

/// The product named in our header line.
pub const PRODUCT: &str = concat!("xdhcpd-", env!("CARGO_PKG_VERSION"));

/// Append the file header dhcpd writes at the top of a new lease file, naming our product.
pub fn write_header(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"# The format of this file is documented in the dhcpd.leases(5) manual page.\n");
    buf.extend_from_slice(b"# This lease file was written by ");
    buf.extend_from_slice(PRODUCT.as_bytes());
    buf.extend_from_slice(b"\n\n# authoring-byte-order entry is generated, DO NOT DELETE\n");
    if cfg!(target_endian = "big") {
        buf.extend_from_slice(b"authoring-byte-order big-endian;\n\n");
    } else {
        buf.extend_from_slice(b"authoring-byte-order little-endian;\n\n");
    }
}

/// The header as a byte vector.
pub fn header() -> Vec<u8> {
    let mut v = Vec::with_capacity(200);
    write_header(&mut v);
    v
}

/// Append one record.
pub fn write_entry(buf: &mut Vec<u8>, e: &Entry) {
    match e {
        Entry::Lease(l) => write_lease(buf, l),
        Entry::FailoverState(f) => write_failover_state(buf, f),
        Entry::Host(h) => write_host(buf, h),
    }
}

/// Append a `lease` record.
///
/// Fields are written in dhcpd's order. Every `Some` time is written (dhcpd omits zero
/// times; keep them `None`). `ends: None` is `ends never;`, `ends: Some(0)` is omitted.
/// `next`/`rewind binding state` are written when `Some` (dhcpd writes them only when they
/// differ from `binding state`). An empty hardware address or uid is omitted.
pub fn write_lease(buf: &mut Vec<u8>, l: &LeaseRecord) {
    buf.extend_from_slice(b"lease ");
    push_ip(buf, l.ip);
    buf.extend_from_slice(b" {");
    if let Some(t) = l.starts {
        time_stmt(buf, b"starts", t);
    }
    match l.ends {
        None => buf.extend_from_slice(b"\n  ends never;"),
        Some(0) => {}
        Some(t) => time_stmt(buf, b"ends", t),
    }
    for (kw, t) in [(&b"tstp"[..], l.tstp), (b"tsfp", l.tsfp), (b"atsfp", l.atsfp), (b"cltt", l.cltt)] {
        if let Some(t) = t {
            time_stmt(buf, kw, t);
        }
    }
    buf.extend_from_slice(b"\n  binding state ");
    buf.extend_from_slice(l.binding_state.name().as_bytes());
    buf.push(b';');
    if let Some(s) = l.next_binding_state {
        buf.extend_from_slice(b"\n  next binding state ");
        buf.extend_from_slice(s.name().as_bytes());
        buf.push(b';');
    }
    if let Some(s) = l.rewind_binding_state {
        buf.extend_from_slice(b"\n  rewind binding state ");
        buf.extend_from_slice(s.name().as_bytes());
        buf.push(b';');
    }
    if l.reserved {
        buf.extend_from_slice(b"\n  reserved;");
    }
    if l.bootp {
        buf.extend_from_slice(b"\n  dynamic-bootp;");
    }
    // Where dhcpd's write_lease puts it; a subclass's value as its print_hash_string
    // writes it: quoted when printable, else colon-separated hex.
    if let Some((class, value)) = &l.billing {
        match value {
            None => {
                buf.extend_from_slice(b"\n  billing class ");
                push_quoted(buf, class.as_bytes());
                buf.push(b';');
            }
            Some(v) => {
                buf.extend_from_slice(b"\n  billing subclass ");
                push_quoted(buf, class.as_bytes());
                buf.push(b' ');
                if !v.is_empty() && v.iter().all(|c| is_print(*c)) {
                    push_quoted(buf, v);
                } else {
                    let hex: Vec<String> = v.iter().map(|b| format!("{b:02x}")).collect();
                    buf.extend_from_slice(hex.join(":").as_bytes());
                }
                buf.push(b';');
            }
        }
    }
    if let Some((htype, addr)) = &l.hardware {
        hardware_stmt(buf, *htype, addr);
    }
    if let Some(uid) = l.uid.as_deref().filter(|u| !u.is_empty()) {
        buf.extend_from_slice(b"\n  uid ");
        push_quoted(buf, uid);
        buf.push(b';');
    }
    if let Some(vc) = &l.vendor_class {
        buf.extend_from_slice(b"\n  set vendor-class-identifier = ");
        push_quoted(buf, vc.as_bytes());
        buf.push(b';');
    }
    // As dhcpd's write_binding_scope writes them: data quoted (non-printables octal),
    // a number after `%`, a boolean as `true`/`false`.
    for (name, value) in &l.vars {
        buf.extend_from_slice(b"\n  set ");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b" = ");
        match value {
            crate::record::VarValue::Data(d) => push_quoted(buf, d),
            crate::record::VarValue::Num(n) => buf.extend_from_slice(format!("%{n}").as_bytes()),
            crate::record::VarValue::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        }
        buf.push(b';');
    }
    if let Some(h) = &l.client_hostname {
        buf.extend_from_slice(b"\n  client-hostname ");
        push_quoted(buf, h.as_bytes());
        buf.push(b';');
    }
    // dhcpd's write_lease: `on expiry [or release] { ... }`, then `on release { ... }`.
    for e in l.events.iter().filter(|e| (e.expiry || e.release) && !e.text.trim().is_empty()) {
        buf.extend_from_slice(match (e.expiry, e.release) {
            (true, true) => b"\n  on expiry or release {".as_slice(),
            (true, false) => b"\n  on expiry {",
            _ => b"\n  on release {",
        });
        // One statement a line, as dhcpd's write_statements puts them.
        for stmt in top_level_statements(&e.text) {
            buf.extend_from_slice(b"\n    ");
            buf.extend_from_slice(stmt.as_bytes());
        }
        buf.extend_from_slice(b"\n  }");
    }
    buf.extend_from_slice(b"\n}\n");
}

/// The statements of `text` at its top level (a `;` or a closing `}` outside strings,
/// comments and blocks ends one), each trimmed.
pub(crate) fn top_level_statements(text: &str) -> Vec<&str> {
    let (mut out, mut start, mut depth, mut quoted, mut escaped) = (Vec::new(), 0, 0usize, false, false);
    let mut comment = false;
    for (i, c) in text.char_indices() {
        if comment {
            comment = c != '\n';
            continue;
        }
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        let end = match c {
            '"' => {
                quoted = true;
                false
            }
            '#' => {
                comment = true;
                false
            }
            '{' => {
                depth += 1;
                false
            }
            '}' => {
                depth = depth.saturating_sub(1);
                depth == 0
            }
            ';' => depth == 0,
            _ => false,
        };
        if end {
            let s = text.get(start..=i).unwrap_or_default().trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    if let Some(rest) = text.get(start..).map(str::trim).filter(|r| !r.is_empty()) {
        out.push(rest);
    }
    out
}

/// Append a `failover peer "NAME" state { … }` block (preceded by an empty line, as dhcpd does).
pub fn write_failover_state(buf: &mut Vec<u8>, f: &FailoverStateRecord) {
    buf.extend_from_slice(b"\nfailover peer ");
    push_quoted(buf, f.peer.as_bytes());
    buf.extend_from_slice(b" state {\n  my state ");
    buf.extend_from_slice(f.my_state.lease_file_name().as_bytes());
    buf.extend_from_slice(b" at ");
    push_time(buf, f.my_stos);
    buf.extend_from_slice(b"\n  partner state ");
    buf.extend_from_slice(f.partner_state.lease_file_name().as_bytes());
    buf.extend_from_slice(b" at ");
    push_time(buf, f.partner_stos);
    if let Some(m) = f.mclt {
        buf.extend_from_slice(b"\n  mclt ");
        push_u64(buf, u64::from(m));
        buf.push(b';');
    }
    buf.extend_from_slice(b"\n}\n");
}

/// Append a `host NAME { dynamic; … }` record. A deleted host is written as
/// `dynamic; deleted;` only, as dhcpd does.
pub fn write_host(buf: &mut Vec<u8>, h: &HostRecord) {
    buf.extend_from_slice(b"host ");
    if is_bare_name(h.name.as_bytes()) {
        buf.extend_from_slice(h.name.as_bytes());
    } else {
        push_quoted(buf, h.name.as_bytes());
    }
    buf.extend_from_slice(b" {\n  dynamic;");
    if h.deleted {
        buf.extend_from_slice(b"\n  deleted;");
    } else {
        if let Some((htype, addr)) = &h.hardware {
            hardware_stmt(buf, *htype, addr);
        }
        if let Some(uid) = h.uid.as_deref().filter(|u| !u.is_empty()) {
            buf.extend_from_slice(b"\n  uid ");
            // dhcpd: a printable uid as a plain string, otherwise colon-separated hex.
            if uid.iter().all(|&c| is_print(c) && c != b'"' && c != b'\\') {
                buf.push(b'"');
                buf.extend_from_slice(uid);
                buf.push(b'"');
            } else {
                push_hex_colon(buf, uid);
            }
            buf.push(b';');
        }
        if let Some(ip) = h.fixed_address {
            buf.extend_from_slice(b"\n  fixed-address ");
            push_ip(buf, ip);
            buf.push(b';');
        }
    }
    buf.extend_from_slice(b"\n}\n");
}

/// Names written without quotes (dhcpd writes host names bare).
pub(crate) fn is_bare_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// dhcpd's `hardware_types[]` names that its parser accepts; others are `unknown-N`
/// (which our reader accepts and dhcpd's does not).
pub fn hardware_type_name(htype: u8) -> Option<&'static str> {
    match htype {
        1 => Some("ethernet"),
        6 => Some("token-ring"),
        8 => Some("fddi"),
        32 => Some("infiniband"),
        _ => None,
    }
}

fn hardware_stmt(buf: &mut Vec<u8>, htype: u8, addr: &[u8]) {
    if addr.is_empty() {
        return;
    }
    buf.extend_from_slice(b"\n  hardware ");
    match hardware_type_name(htype) {
        Some(n) => buf.extend_from_slice(n.as_bytes()),
        None => {
            buf.extend_from_slice(b"unknown-");
            push_u64(buf, u64::from(htype));
        }
    }
    buf.push(b' ');
    push_hex_colon(buf, addr);
    buf.push(b';');
}

fn time_stmt(buf: &mut Vec<u8>, kw: &[u8], t: u32) {
    buf.extend_from_slice(b"\n  ");
    buf.extend_from_slice(kw);
    buf.push(b' ');
    push_time(buf, t);
}

/// Whether times are written `epoch N; # local date` (dhcpd's `db-time-format local`)
/// instead of UTC dates. Process-wide, as in dhcpd; set by the server from dhcpd.conf.
static EPOCH_TIMES: AtomicBool = AtomicBool::new(false);
/// Formats the local-time comment of an epoch time; given once by the server (reading
/// the time zone is IO, which this crate leaves to its caller).
static LOCAL_DATE: OnceLock<fn(u32) -> String> = OnceLock::new();

/// dhcpd's `db-time-format`: `local_date` `Some` writes every time as `epoch N; #
/// <local_date(N)>` from now on, `None` as UTC dates (`default`). The first function
/// given stays (the time zone rules do not change while running).
pub fn set_db_time_format(local_date: Option<fn(u32) -> String>) {
    if let Some(f) = local_date {
        let _ = LOCAL_DATE.set(f);
    }
    EPOCH_TIMES.store(local_date.is_some(), Ordering::Relaxed);
}

/// A time as dhcpd writes it with the `db-time-format` in force (see
/// [`set_db_time_format`]), including the semicolon.
pub fn push_time(buf: &mut Vec<u8>, t: u32) {
    match LOCAL_DATE.get() {
        Some(f) if EPOCH_TIMES.load(Ordering::Relaxed) => push_epoch_time(buf, t, *f),
        _ => push_utc_time(buf, t),
    }
}

/// `epoch N; # DATE` with DATE from `local_date` (dhcpd: `# %a %b %d %H:%M:%S %Y` in
/// local time), as dhcpd writes times with `db-time-format local`.
pub fn push_epoch_time(buf: &mut Vec<u8>, t: u32, local_date: fn(u32) -> String) {
    buf.extend_from_slice(b"epoch ");
    push_u64(buf, u64::from(t));
    buf.extend_from_slice(b"; # ");
    // The comment ends at the line's end: keep a newline out of it whatever the caller.
    buf.extend(local_date(t).bytes().filter(|&b| b != b'\n' && b != b'\r'));
}

/// `W YYYY/MM/DD HH:MM:SS;` (UTC), including the semicolon.
pub fn push_utc_time(buf: &mut Vec<u8>, t: u32) {
    let tm = gmtime(t);
    buf.push(b'0' + tm.wday as u8);
    buf.push(b' ');
    // gmtime of a u32 gives years 1970..=2106.
    push_u64(buf, tm.year as u64);
    buf.push(b'/');
    push_2(buf, tm.month);
    buf.push(b'/');
    push_2(buf, tm.day);
    buf.push(b' ');
    push_2(buf, tm.hour);
    buf.push(b':');
    push_2(buf, tm.min);
    buf.push(b':');
    push_2(buf, tm.sec);
    buf.push(b';');
}

fn push_2(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10 % 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn push_ip(buf: &mut Vec<u8>, ip: Ipv4Addr) {
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf.push(b'.');
        }
        push_u64(buf, u64::from(o));
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex_colon(buf: &mut Vec<u8>, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            buf.push(b':');
        }
        buf.push(HEX[usize::from(b >> 4)]);
        buf.push(HEX[usize::from(b & 15)]);
    }
}

fn is_print(c: u8) -> bool {
    (0x20..0x7f).contains(&c)
}

/// A quoted string as dhcpd's `quotify_buf` writes it: printable ASCII as-is, `"` and `\`
/// escaped with a backslash, every other byte as a three-digit octal escape.
pub fn push_quoted(buf: &mut Vec<u8>, s: &[u8]) {
    buf.push(b'"');
    for &c in s {
        if c == b'"' || c == b'\\' {
            buf.push(b'\\');
            buf.push(c);
        } else if is_print(c) {
            buf.push(c);
        } else {
            buf.push(b'\\');
            buf.push(b'0' + (c >> 6));
            buf.push(b'0' + ((c >> 3) & 7));
            buf.push(b'0' + (c & 7));
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_dhcpd() {
        let mut b = Vec::new();
        push_quoted(&mut b, &[1, b'R', b'T', 0, 0xaa, 0xbb, 0x10]);
        assert_eq!(b, br#""\001RT\000\252\273\020""#);
        b.clear();
        push_quoted(&mut b, b"a \"b\\");
        assert_eq!(b, br#""a \"b\\""#);
    }

    #[test]
    fn epoch_time_format() {
        // dhcpd 4.4.3 with `db-time-format local` wrote, in a zone at UTC:
        // `  starts epoch 1796608239; # Mon Dec 07 01:50:39 2026`.
        let mut b = Vec::new();
        push_epoch_time(&mut b, 1_796_608_239, |_| "Mon Dec 07 01:50:39 2026".to_string());
        assert_eq!(b, b"epoch 1796608239; # Mon Dec 07 01:50:39 2026");
        b.clear();
        push_epoch_time(&mut b, 1_795_610_435, |_| "Wed Nov 25 13:40:35 2026\n".to_string());
        assert_eq!(b, b"epoch 1795610435; # Wed Nov 25 13:40:35 2026");
        // What dhcpd reads back: the time, the comment skipped.
        let mut rec = header();
        rec.extend_from_slice(b"lease 198.18.0.9 {\n  starts ");
        rec.extend_from_slice(&b);
        rec.extend_from_slice(b"\n  binding state active;\n}\n");
        let parsed = crate::parse(&rec);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        match parsed.entries.first() {
            Some(Entry::Lease(l)) => assert_eq!(l.starts, Some(1_795_610_435)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn time_format() {
        let mut b = Vec::new();
        push_time(&mut b, 1_795_610_435);
        assert_eq!(b, b"3 2026/11/25 12:40:35;");
        b.clear();
        push_time(&mut b, 0);
        assert_eq!(b, b"4 1970/01/01 00:00:00;");
    }
}
