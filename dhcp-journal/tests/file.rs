//! JournalFile: create, append + sync, torn-tail repair, atomic compaction.

mod common;

use std::fs;

use dhcp_journal::{Entry, JournalFile, WarningKind, file::tmp_path, fold, header, parse};

#[test]
fn create_append_sync_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dhcpd.leases");
    let (mut j, parsed) = JournalFile::open(&path).unwrap();
    assert!(parsed.entries.is_empty());
    assert_eq!(fs::read(&path).unwrap(), header());

    let entries = common::leases(10);
    for e in &entries[..7] {
        j.append(e);
    }
    assert!(j.pending() > 0);
    // Nothing is written before sync.
    assert_eq!(fs::read(&path).unwrap(), header());
    let n = j.sync().unwrap();
    assert!(n > 0);
    assert_eq!(j.pending(), 0);
    assert_eq!(j.sync().unwrap(), 0);
    for e in &entries[7..] {
        j.append(e);
    }
    j.sync().unwrap();
    assert_eq!(j.len(), fs::metadata(&path).unwrap().len());
    drop(j);

    let (_j, parsed) = JournalFile::open(&path).unwrap();
    assert!(parsed.warnings.is_empty());
    assert_eq!(parsed.entries, entries);
}

#[test]
fn open_cuts_a_torn_tail_and_appends_after_the_last_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dhcpd.leases");
    let entries = common::leases(3);
    {
        let (mut j, _) = JournalFile::open(&path).unwrap();
        for e in &entries[..2] {
            j.append(e);
        }
        j.sync().unwrap();
    }
    let good = fs::read(&path).unwrap();
    // Simulate a crash in the middle of writing a record.
    let mut torn = good.clone();
    torn.extend_from_slice(b"lease 10.9.9.9 {\n  starts 3 2026/11/25 12:4");
    fs::write(&path, &torn).unwrap();

    let (mut j, parsed) = JournalFile::open(&path).unwrap();
    assert_eq!(parsed.entries, entries[..2]);
    assert_eq!(parsed.torn_at, Some(good.len()));
    assert_eq!(parsed.warnings[0].kind, WarningKind::TornRecord);
    assert_eq!(fs::read(&path).unwrap(), good, "torn tail cut off");
    j.append(&entries[2]);
    j.sync().unwrap();
    drop(j);
    let parsed = parse(&fs::read(&path).unwrap());
    assert!(parsed.warnings.is_empty());
    assert_eq!(parsed.entries, entries);
}

#[test]
fn compaction_replaces_the_file_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dhcpd.leases");
    let (mut j, _) = JournalFile::open(&path).unwrap();
    // Three generations of the same 50 addresses.
    for round in 0..3u32 {
        for mut l in common::leases(50).into_iter().map(|e| match e {
            Entry::Lease(l) => l,
            _ => unreachable!(),
        }) {
            l.cltt = Some(1_795_610_435 + round);
            j.append(&Entry::Lease(l));
        }
        j.sync().unwrap();
    }
    let before = fs::metadata(&path).unwrap().len();
    let state = fold(parse(&fs::read(&path).unwrap()).entries);
    assert_eq!(state.leases.len(), 50);
    let compacted = state.to_entries();

    // A queued, unsynced record survives compaction.
    let extra = Entry::Lease(common::lease(1000));
    j.append(&extra);
    let len = j.compact(&compacted).unwrap();
    assert!(len < before);
    assert!(!tmp_path(&path).exists());
    let parsed = parse(&fs::read(&path).unwrap());
    assert!(parsed.warnings.is_empty());
    assert_eq!(parsed.entries, compacted);

    j.sync().unwrap();
    let more = Entry::Lease(common::lease(1001));
    j.append(&more);
    j.sync().unwrap();
    drop(j);
    let (_j, parsed) = JournalFile::open(&path).unwrap();
    let mut expect = compacted.clone();
    expect.push(extra);
    expect.push(more);
    assert_eq!(parsed.entries, expect);
}

/// A crash before the rename leaves `path.tmp` half written: the old file is complete and
/// is what `open` reads; the leftover is removed.
#[test]
fn crash_before_rename_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dhcpd.leases");
    let entries = common::leases(5);
    {
        let (mut j, _) = JournalFile::open(&path).unwrap();
        for e in &entries {
            j.append(e);
        }
        j.sync().unwrap();
    }
    let old = fs::read(&path).unwrap();
    let mut new = header();
    for e in &entries[..2] {
        dhcp_journal::write_entry(&mut new, e);
    }
    for cut in [0, 10, new.len() / 2, new.len()] {
        fs::write(tmp_path(&path), &new[..cut]).unwrap();
        let (_j, parsed) = JournalFile::open(&path).unwrap();
        assert_eq!(parsed.entries, entries);
        assert!(parsed.warnings.is_empty());
        assert!(!tmp_path(&path).exists());
        assert_eq!(fs::read(&path).unwrap(), old);
    }
}

/// Compaction that fails before the rename leaves the old file complete and in use.
#[test]
fn failed_compaction_keeps_the_old_file_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dhcpd.leases");
    let entries = common::leases(4);
    let (mut j, _) = JournalFile::open(&path).unwrap();
    j.append(&entries[0]);
    j.sync().unwrap();
    let old = fs::read(&path).unwrap();
    // Make the temporary file impossible to create.
    fs::create_dir(tmp_path(&path)).unwrap();
    fs::write(tmp_path(&path).join("x"), b"x").unwrap();
    assert!(j.compact(&entries[1..2]).is_err());
    assert_eq!(fs::read(&path).unwrap(), old);
    j.append(&entries[2]);
    j.sync().unwrap();
    let parsed = parse(&fs::read(&path).unwrap());
    assert_eq!(parsed.entries, [entries[0].clone(), entries[2].clone()]);
}

/// After compaction the file at `path` is always either the complete old content or the
/// complete new content: check both states that a crash can expose.
#[test]
fn compaction_is_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dhcpd.leases");
    let entries = common::leases(20);
    let (mut j, _) = JournalFile::open(&path).unwrap();
    for e in &entries {
        j.append(e);
    }
    j.sync().unwrap();
    let old = parse(&fs::read(&path).unwrap());
    j.compact(&entries[10..]).unwrap();
    let new = parse(&fs::read(&path).unwrap());
    assert!(old.warnings.is_empty() && new.warnings.is_empty());
    assert_eq!(old.entries, entries);
    assert_eq!(new.entries, entries[10..]);
}

/// `open_folded` (what the server loads at start) reads exactly what `open` reads, folded:
/// later records of an address replace earlier ones, and a torn tail is cut and never
/// folded in.
#[test]
fn open_folded_is_open_then_fold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dhcpd.leases");
    let mut entries = common::leases(50);
    // The same addresses again, changed: the later records must win.
    for e in common::leases(20) {
        if let Entry::Lease(mut l) = e {
            l.ends = Some(4_000_000_000);
            entries.push(Entry::Lease(l));
        }
    }
    {
        let (mut j, _) = JournalFile::open(&path).unwrap();
        for e in &entries {
            j.append(e);
        }
        j.sync().unwrap();
    }
    let mut bytes = fs::read(&path).unwrap();
    let good = bytes.len();
    bytes.extend_from_slice(b"lease 10.9.9.9 {\n  starts 3 2026/11/25 12:4");
    fs::write(&path, &bytes).unwrap();
    let expected = fold(parse(&bytes[..good]).entries);

    let (_j, state, parsed) = JournalFile::open_folded(&path).unwrap();
    assert_eq!(state, expected);
    assert_eq!(state.leases.len(), 50);
    assert_eq!(state.leases.iter().filter(|l| l.ends == Some(4_000_000_000)).count(), 20);
    assert!(parsed.entries.is_empty());
    assert_eq!(parsed.torn_at, Some(good));
    // The torn tail was cut from the file, as `open` cuts it.
    assert_eq!(fs::metadata(&path).unwrap().len(), good as u64);
}
