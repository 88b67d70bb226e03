//! The lease file on disk: append with group commit, and atomic compaction.
//!
//! This is the only module that does IO. Formatting and parsing are in
//! [`format`](mod@crate::format) and [`parse`](mod@crate::parse).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::format::{header, write_entry};
use crate::parse::{Parsed, parse_each};
use crate::record::{Entry, State};

/// An open lease file. Records are appended to an in-memory buffer by
/// [`append`](Self::append) and made durable by [`sync`](Self::sync) (one write and one
/// fdatasync per batch: the group-commit point before the ACKs go out).
#[derive(Debug)]
pub struct JournalFile {
    path: PathBuf,
    file: File,
    /// Records appended but not yet written.
    buf: Vec<u8>,
    /// Bytes the file holds (written; durable unless `unsynced`).
    len: u64,
    /// Written bytes whose fdatasync has not succeeded yet.
    unsynced: bool,
    /// An fdatasync failed: what the file holds since its last durable point is unknown.
    /// Linux reports a writeback error once and may drop the dirty pages; a retried
    /// fdatasync then succeeds without writing them ("fsyncgate"). Nothing counts as durable
    /// until [`compact`](Self::compact) has rewritten the whole file.
    suspect: bool,
    /// Records appended since [`begin_compaction`](Self::begin_compaction): they go to the
    /// compacted file when it is [installed](Self::install).
    shadow: Option<Vec<u8>>,
    /// Test hook: the next fdatasync fails as a writeback error would.
    #[cfg(test)]
    fail_next_sync: bool,
}

/// A compacted lease file written beside the live one, complete and fsynced but not yet in
/// place: [`write_compacted`] makes it (on any thread), [`JournalFile::install`] puts it in
/// place.
#[derive(Debug)]
pub struct Compacted {
    file: File,
    len: u64,
}

/// `path` + `.compacting`: where a compaction written beside the live file goes.
pub fn compacting_path(path: &Path) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(".compacting");
    PathBuf::from(s)
}

/// Bytes reserved per entry of a compacted file before formatting it.
const RECORD_ESTIMATE: usize = 256;

/// Write a header plus `entries` to `path.compacting` and fsync it. Meant for another thread
/// than the one appending to `path`: the live file is not touched, and nothing else writes
/// `path.compacting` while one compaction is in flight.
pub fn write_compacted<'a, I>(path: &Path, entries: I) -> Result<Compacted, JournalError>
where
    I: IntoIterator<Item = &'a Entry>,
{
    let entries = entries.into_iter();
    let mut data = header();
    // Room for the usual record (~200-300 bytes) up front: a file of 100,000 leases grown
    // by doubling was copied a dozen times over.
    data.reserve(entries.size_hint().0.saturating_mul(RECORD_ESTIMATE));
    for e in entries {
        write_entry(&mut data, e);
    }
    let tmp = compacting_path(path);
    let written = (|| {
        let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        Ok::<File, io::Error>(f)
    })();
    match written {
        Ok(file) => Ok(Compacted { file, len: data.len() as u64 }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(JournalError::io("write compacted file", &tmp, e))
        }
    }
}

/// `path` + `.tmp`: where compaction writes the new file before renaming it.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(".tmp");
    PathBuf::from(s)
}

/// Room for the records of the file at `path` (none if it cannot be read).
fn expected_records(path: &Path) -> usize {
    fs::metadata(path).map(|m| crate::parse::records_in(m.len() as usize)).unwrap_or(0)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsync a directory so that a create or rename in it is durable.
fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| JournalError::io("fsync directory", dir, e))
}

impl JournalFile {
    /// Open (or create) the lease file and read what it holds.
    ///
    /// - A missing or empty file is created with the header, fsynced, and its directory
    ///   fsynced.
    /// - A torn last record (see [`Parsed::torn_at`]) is cut off the file (truncate +
    ///   fsync) so that new records follow the last complete one; the warning stays in the
    ///   returned [`Parsed`].
    /// - A leftover `path.tmp` from an interrupted compaction is removed (the file at
    ///   `path` is then the complete old one).
    pub fn open(path: impl AsRef<Path>) -> Result<(Self, Parsed), JournalError> {
        let path = path.as_ref();
        let mut entries = Vec::with_capacity(expected_records(path));
        let (file, mut parsed) = Self::open_each(path, &mut |e| entries.push(e))?;
        parsed.entries = entries;
        Ok((file, parsed))
    }

    /// [`open`](Self::open), folding the records as they are read
    /// ([`fold`](crate::record::fold)) instead of returning them: the way to load a large
    /// file at start-up (no vector of every record beside the folded table). The returned
    /// [`Parsed`] has the warnings and the torn offset; its `entries` is empty.
    pub fn open_folded(path: impl AsRef<Path>) -> Result<(Self, State, Parsed), JournalError> {
        let path = path.as_ref();
        let mut state = State::with_capacity(expected_records(path));
        let (file, parsed) = Self::open_each(path, &mut |e| state.apply(e))?;
        Ok((file, state, parsed))
    }

    /// [`open`](Self::open), handing each complete record to `each` in file order.
    fn open_each(path: &Path, each: &mut dyn FnMut(Entry)) -> Result<(Self, Parsed), JournalError> {
        let path = path.to_path_buf();
        let tmp = tmp_path(&path);
        // A crash during compaction can leave these behind; they were never renamed in.
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(compacting_path(&path));

        let bytes = match fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(JournalError::io("read", &path, e)),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| JournalError::io("open", &path, e))?;

        let (parsed, len) = match bytes {
            Some(b) if !b.is_empty() => {
                let parsed = parse_each(&b, each);
                let mut len = b.len() as u64;
                if let Some(off) = parsed.torn_at {
                    len = off as u64;
                    file.set_len(len)
                        .and_then(|()| file.sync_all())
                        .map_err(|e| JournalError::io("truncate torn record of", &path, e))?;
                }
                (parsed, len)
            }
            existing => {
                let h = header();
                file.set_len(0)
                    .and_then(|()| file.write_all(&h))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| JournalError::io("write header to", &path, e))?;
                if existing.is_none() {
                    sync_dir(parent_dir(&path))?;
                }
                (parse_each(&h, each), h.len() as u64)
            }
        };
        file.seek(SeekFrom::Start(len)).map_err(|e| JournalError::io("seek", &path, e))?;
        Ok((
            Self {
                path,
                file,
                buf: Vec::with_capacity(64 * 1024),
                len,
                unsynced: false,
                suspect: false,
                shadow: None,
                #[cfg(test)]
                fail_next_sync: false,
            },
            parsed,
        ))
    }

    /// Queue a record; nothing is written until [`sync`](Self::sync).
    pub fn append(&mut self, e: &Entry) {
        let at = self.buf.len();
        write_entry(&mut self.buf, e);
        if let Some(shadow) = self.shadow.as_mut() {
            shadow.extend_from_slice(&self.buf[at..]);
        }
    }

    /// A compaction is being written elsewhere ([`write_compacted`]) from a snapshot read
    /// after this call: keep every record appended from now on for it.
    pub fn begin_compaction(&mut self) {
        self.shadow = Some(Vec::new());
    }

    /// The compaction begun by [`begin_compaction`](Self::begin_compaction) is given up.
    pub fn abort_compaction(&mut self) {
        self.shadow = None;
        let _ = fs::remove_file(compacting_path(&self.path));
    }

    /// A compaction is in flight.
    pub fn compacting(&self) -> bool {
        self.shadow.is_some()
    }

    /// Put a compacted file in place: append the records appended here since
    /// [`begin_compaction`](Self::begin_compaction) (newer than its snapshot, so they follow
    /// it), fsync, rename it over `path`, fsync the directory. Call it when nothing is queued
    /// (right after a successful [`sync`](Self::sync)), so that no record is written twice.
    ///
    /// A crash at any point leaves either the complete old file or the complete new one at
    /// `path`; on an error before the rename the old file stays in use.
    pub fn install(&mut self, c: Compacted) -> Result<u64, JournalError> {
        let shadow = self.shadow.take().unwrap_or_default();
        let tmp = compacting_path(&self.path);
        let Compacted { mut file, len } = c;
        if let Err(e) = file.write_all(&shadow).and_then(|()| file.sync_all()) {
            let _ = fs::remove_file(&tmp);
            return Err(JournalError::io("complete compacted file", &tmp, e));
        }
        if let Err(e) = fs::rename(&tmp, &self.path) {
            let _ = fs::remove_file(&tmp);
            return Err(JournalError::io("rename compacted file over", &self.path, e));
        }
        self.file = file;
        self.len = len + shadow.len() as u64;
        self.unsynced = false;
        sync_dir(parent_dir(&self.path))?;
        self.suspect = false;
        Ok(self.len)
    }

    /// Bytes queued by [`append`](Self::append) and not yet written.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Write the queued records with one write and fdatasync them. Returns the number of
    /// bytes written (0 when nothing was queued).
    ///
    /// On a write error the file is cut back to its previous length and the records stay
    /// queued, so a later `sync` retries them. After an fdatasync error the file is
    /// [suspect](Self::needs_rewrite): every later `sync` fails until a
    /// [`compact`](Self::compact) has rewritten it. Do not send the ACKs of a batch whose
    /// `sync` failed.
    pub fn sync(&mut self) -> io::Result<u64> {
        if self.suspect {
            return Err(io::Error::other(
                "an earlier fdatasync of the lease file failed; it is rewritten before anything counts as durable",
            ));
        }
        let n = self.buf.len();
        if n > 0 {
            if let Err(e) = self.file.write_all(&self.buf) {
                // Do not leave a partial record for the next batch to follow.
                let _ = self.file.set_len(self.len);
                let _ = self.file.seek(SeekFrom::Start(self.len));
                return Err(e);
            }
            self.len += n as u64;
            self.buf.clear();
            self.unsynced = true;
        }
        if self.unsynced {
            #[cfg(test)]
            if std::mem::take(&mut self.fail_next_sync) {
                self.suspect = true;
                return Err(io::Error::from_raw_os_error(5));
            }
            if let Err(e) = self.file.sync_data() {
                self.suspect = true;
                return Err(e);
            }
            self.unsynced = false;
        }
        Ok(n as u64)
    }

    /// Replace the file atomically by a header plus `entries` (typically
    /// `State::to_entries()`): write `path.tmp`, fsync it, rename it over `path`, fsync the
    /// directory. Later appends go to the new file. Returns the new file's length.
    ///
    /// Records queued by [`append`](Self::append) and not yet synced stay queued and go to
    /// the new file at the next [`sync`](Self::sync).
    ///
    /// A crash at any point leaves either the complete old file or the complete new file at
    /// `path`. On an error before the rename the old file stays in use.
    pub fn compact<'a, I>(&mut self, entries: I) -> Result<u64, JournalError>
    where
        I: IntoIterator<Item = &'a Entry>,
    {
        // Complete in itself: a compaction in flight elsewhere is not needed any more.
        self.shadow = None;
        let mut data = header();
        for e in entries {
            write_entry(&mut data, e);
        }
        let tmp = tmp_path(&self.path);
        let written = (|| {
            let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            Ok::<File, io::Error>(f)
        })();
        let f = match written {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(JournalError::io("write compacted file", &tmp, e));
            }
        };
        if let Err(e) = fs::rename(&tmp, &self.path) {
            let _ = fs::remove_file(&tmp);
            return Err(JournalError::io("rename compacted file over", &self.path, e));
        }
        // From here `path` is the new file: use its handle (same inode) at once, so that no
        // append goes to the old, unlinked one even if the directory fsync fails.
        self.file = f;
        self.len = data.len() as u64;
        self.unsynced = false;
        sync_dir(parent_dir(&self.path))?;
        // Only now: a rename that is not durable could bring the suspect file back.
        self.suspect = false;
        Ok(self.len)
    }

    /// An fdatasync failed and no [`compact`](Self::compact) has rewritten the file since:
    /// [`sync`](Self::sync) refuses until one has.
    pub fn needs_rewrite(&self) -> bool {
        self.suspect
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file (not counting queued records).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the file holds no bytes (never the case after `open`, which writes a header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::record::{BindingState, LeaseRecord};

    fn lease(ip: [u8; 4]) -> Entry {
        Entry::Lease(LeaseRecord::new(std::net::Ipv4Addr::from(ip), BindingState::Active))
    }

    /// A failed fdatasync is never followed by a sync that claims durability for what it
    /// failed to write: only a rewrite of the whole file ends the suspicion.
    #[test]
    fn after_a_failed_fdatasync_only_a_rewrite_makes_anything_durable() {
        let dir = std::env::temp_dir().join(format!("xdhcpd-fsyncgate-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dhcpd.leases");
        let (mut f, _) = JournalFile::open(&path).unwrap();
        f.append(&lease([198, 18, 0, 10]));
        f.sync().unwrap();
        f.append(&lease([198, 18, 0, 11]));
        f.fail_next_sync = true;
        assert!(f.sync().is_err());
        assert!(f.needs_rewrite());
        // A retry would succeed on Linux without the dropped pages: it must not be tried.
        f.append(&lease([198, 18, 0, 12]));
        assert!(f.sync().is_err(), "a later batch is not durable either");
        let everything = [lease([198, 18, 0, 10]), lease([198, 18, 0, 11])];
        f.compact(everything.iter()).unwrap();
        assert!(!f.needs_rewrite());
        f.sync().unwrap();
        let parsed = parse(&fs::read(&path).unwrap());
        let ips: std::collections::BTreeSet<_> = parsed
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Lease(l) => Some(l.ip),
                _ => None,
            })
            .collect();
        assert_eq!(ips.len(), 3, "{ips:?}");
        let _ = fs::remove_dir_all(&dir);
    }

    /// A compaction written beside the live file while records keep being appended: the
    /// installed file holds the snapshot and, after it, every record appended meanwhile.
    #[test]
    fn a_compaction_written_beside_the_live_file_keeps_what_was_appended_meanwhile() {
        let dir = std::env::temp_dir().join(format!("xdhcpd-bgcompact-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dhcpd.leases");
        let (mut f, _) = JournalFile::open(&path).unwrap();
        for i in 0..10 {
            f.append(&lease([198, 18, 0, i]));
        }
        f.sync().unwrap();
        f.begin_compaction();
        // The snapshot (read after begin_compaction) and appends racing with its writing.
        let snapshot: Vec<Entry> = (0..10).map(|i| lease([198, 18, 0, i])).collect();
        f.append(&lease([198, 18, 1, 1]));
        f.sync().unwrap();
        let c = write_compacted(&path, snapshot.iter()).unwrap();
        f.append(&Entry::Lease(LeaseRecord::new(std::net::Ipv4Addr::new(198, 18, 0, 3), BindingState::Free)));
        f.sync().unwrap();
        let len = f.install(c).unwrap();
        assert!(!f.compacting());
        assert_eq!(len, fs::metadata(&path).unwrap().len());
        f.append(&lease([198, 18, 1, 2]));
        f.sync().unwrap();
        let state = crate::record::fold(parse(&fs::read(&path).unwrap()).entries);
        let get =
            |ip: [u8; 4]| state.leases.iter().find(|l| l.ip == std::net::Ipv4Addr::from(ip)).map(|l| l.binding_state);
        assert_eq!(get([198, 18, 1, 1]), Some(BindingState::Active), "appended before the snapshot was written");
        assert_eq!(get([198, 18, 0, 3]), Some(BindingState::Free), "a newer record wins over the snapshot");
        assert_eq!(get([198, 18, 1, 2]), Some(BindingState::Active), "appended after the install");
        assert_eq!(get([198, 18, 0, 9]), Some(BindingState::Active));
        assert!(!compacting_path(&path).exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
