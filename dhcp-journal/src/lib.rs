//! The lease file in ISC dhcpd's `dhcpd.leases` format (digest §7.2).
//!
//! - [`record`](mod@record): the records ([`LeaseRecord`], [`FailoverStateRecord`], [`HostRecord`],
//!   [`Entry`]) and [`fold`] into a [`State`] (the last record wins).
//! - [`format`](mod@format): pure serializer producing dhcpd 4.4's exact layout ([`write_entry`],
//!   [`write_header`]).
//! - [`parse`](mod@parse): pure, tolerant reader ([`parse()`]) that warns instead of failing.
//! - [`file`](mod@file): [`JournalFile`], append + group-commit `sync` + atomic `compact`.
//!
//! Because dhcpd writes and reads the same format, an existing `dhcpd.leases` can be
//! imported with [`parse()`] + [`fold`], and dhcpd tooling can read our file.

mod date;
pub mod error;
pub mod file;
pub mod format;
pub mod parse;
pub mod record;

pub use error::JournalError;
pub use file::JournalFile;
pub use format::{PRODUCT, header, set_db_time_format, write_entry, write_header};
pub use parse::{Parsed, Warning, WarningKind, parse, parse_each};
pub use record::{
    BindingState, Entry, FailoverState, FailoverStateRecord, Hardware, HostRecord, IpBuildHasher, IpHasher,
    LeaseRecord, LeaseTable, NEVER, State, VarValue, fold,
};

/// Fuzz entry point (for a cargo-fuzz target): parse arbitrary bytes, fold them, and check
/// that what was read serializes and reads back to the same records without warnings.
/// Panics only when that invariant breaks.
pub fn fuzz_parse(data: &[u8]) {
    let parsed = parse(data);
    assert!(parsed.valid_len <= data.len());
    assert!(parsed.warnings.len() <= parse::MAX_WARNINGS);
    let mut buf = header();
    for e in &parsed.entries {
        write_entry(&mut buf, e);
    }
    let again = parse(&buf);
    assert!(again.warnings.is_empty(), "re-read of our own output warned: {:?}", again.warnings);
    assert_eq!(again.entries, parsed.entries, "serialize/parse round trip changed records");
    let _ = fold(parsed.entries);
}
