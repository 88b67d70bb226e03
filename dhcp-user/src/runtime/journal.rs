//! The journal thread: group commit of lease records, then the replies that waited for them.
//!
//! Workers hand over (records, reply). The thread takes everything queued, appends it to the
//! lease file, fsyncs once, then sends the replies: an ACK never leaves before its lease is
//! durable, and one fsync covers every ACK of the batch.

use crate::dhcp::Reply;
use crate::lease::{Lease, record};
use crate::stats::Stats;
use anyhow::Result;
use crossbeam::channel::{self, Receiver, Sender as ChanSender};
use dhcp_journal::{Entry, FailoverStateRecord, HostRecord, JournalFile, LeaseRecord};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

enum Job {
    Commit {
        records: Vec<Lease>,
        /// Nothing waits for it: written with the next batch that syncs, or within
        /// `LAZY_SYNC` (see `JournalHandle::record_acked`).
        lazy: bool,
        reply: Option<(Reply, u32)>,
        /// Forward the records to their failover partner after the commit (our own changes;
        /// not the partner's updates we are applying).
        replicate: bool,
        done: Option<tokio::sync::oneshot::Sender<bool>>,
    },
    State(FailoverStateRecord, tokio::sync::oneshot::Sender<bool>),
    Host(HostRecord),
    /// Flush and end the thread (other handles may still be alive).
    Stop,
    /// Rewrite the file now (it is also rewritten on its own when it has grown enough).
    Compact,
}

/// Log target of one line per durable lease change (dhcpd logs every DHCPACK; here it is
/// opt-in, `RUST_LOG=info,xdhcpd::lease=debug`, to keep the hot path quiet by default).
pub const LEASE_LOG: &str = "xdhcpd::lease";

fn log_lease(l: &Lease) {
    let hw = l.hw.map(|h| h.as_slice().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"));
    tracing::debug!(
        target: LEASE_LOG,
        ip = %l.ip,
        state = ?l.state,
        hardware = hw.as_deref().unwrap_or(""),
        starts = l.starts,
        ends = l.ends,
        pool = l.pool,
        "lease durable"
    );
}

/// What happens to a lease change once durable: `(lease, true)` for our own changes (to
/// the failover partner, and their DNS work), `(lease, false)` for a change that is not
/// replicated but carries DNS work (`Lease::ddns`: a removal a partner's update called for).
pub type Replicator = Arc<dyn Fn(&Lease, bool) + Send + Sync>;

/// What a compacted file is written from: every lease of the lease store.
///
/// Why the journal thread reads it, and only after a batch is written and synced: every
/// record the journal writes was in the store before it was handed over (workers bind under
/// the lease's lock, then commit; expiry, acks, balancing and the partner's updates likewise
/// change the store first), so a store read taken there is, for every address, at least as
/// new as anything in the file. A snapshot taken anywhere else can be older than a record
/// appended after it, and the rewrite then erases a lease whose ACK already left: the old
/// server took it on the async thread and lost hundreds of acknowledged leases per
/// compaction under load (a newer store state that is not durable yet only makes the file
/// more conservative: an address held that a client may not have got).
///
/// The periodic rewrite reads it on a compactor thread instead, after the journal thread has
/// begun the compaction (`JournalFile::begin_compaction`): every record appended from then
/// on is kept and follows the snapshot in the new file, and everything appended before is in
/// the store already, so the same argument holds while the journal goes on committing.
///
/// It also gives the journal, for each address it appends, the lease as the store holds it
/// at that moment ([`appended`]).
pub trait LeaseSource: Send + Sync {
    /// Every lease with a record (`LeaseStore::snapshot`).
    fn snapshot(&self) -> Vec<Lease>;
    /// The lease file's record of `ip` as the store holds it now, if it has one.
    fn current_record(&self, ip: std::net::Ipv4Addr) -> Option<LeaseRecord>;
    /// The lease file's record of `l`.
    fn record_of(&self, l: &Lease) -> LeaseRecord;
}

/// A bare store does not know which pools are in failover: its records say no `next
/// binding state` (unit tests, tools).
impl LeaseSource for crate::lease::LeaseStore {
    fn snapshot(&self) -> Vec<Lease> {
        crate::lease::LeaseStore::snapshot(self)
    }
    fn current_record(&self, ip: std::net::Ipv4Addr) -> Option<LeaseRecord> {
        self.read(ip, record::to_record)
    }
    fn record_of(&self, l: &Lease) -> LeaseRecord {
        record::to_record(l)
    }
}

impl LeaseSource for crate::dhcp::Engine {
    fn snapshot(&self) -> Vec<Lease> {
        self.store().snapshot()
    }
    fn current_record(&self, ip: std::net::Ipv4Addr) -> Option<LeaseRecord> {
        self.store().read(ip, |l| self.lease_record(l))
    }
    fn record_of(&self, l: &Lease) -> LeaseRecord {
        self.lease_record(l)
    }
}

/// The lease the journal writes for a change of `handed.ip`: the store's lease as it is at
/// the append (read under its shard lock), not the value handed over.
///
/// Why: a change is made in the store under the lease's lock, and handed to the journal
/// after the lock is released (a DHCP worker's `commit`, the expiry sweep, the failover
/// task's partner updates, ping, OMAPI, DNS). Two changes of one address can therefore
/// reach the journal in the opposite order of the one they were made in: a worker binds,
/// is descheduled, the partner's newer update is applied and written, then the worker's
/// older binding is written last, and a restart folds the file back to it (a lease the
/// partner had taken over, or an ACK's end lost). Written this way, the last record of an
/// address in the file is the store's state at the last append, which follows every change
/// whose commit was appended before it: the file never goes back behind memory. A store
/// state newer than its own commit only makes the file more conservative (the same
/// argument as the compaction's, see [`LeaseSource`]); its own commit writes it again.
/// Sending under the lock instead (keeping the channel in memory order) would block a
/// worker holding a shard lock on a full journal queue while the journal needs that shard
/// for a rewrite, and every producer would have to do it.
pub fn appended(leases: &dyn LeaseSource, handed: &Lease) -> LeaseRecord {
    leases.current_record(handed.ip).unwrap_or_else(|| leases.record_of(handed))
}

/// The whole lease file as it is rewritten: failover state records first (dhcpd's layout),
/// hosts created over OMAPI, then one record per address that was ever used.
pub fn compacted_entries<'a>(
    states: impl IntoIterator<Item = &'a FailoverStateRecord>,
    hosts: impl IntoIterator<Item = &'a HostRecord>,
    leases: &[Lease],
    source: &dyn LeaseSource,
) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(leases.len() + 16);
    entries.extend(
        states.into_iter().cloned().map(Entry::FailoverState).chain(hosts.into_iter().cloned().map(Entry::Host)).chain(
            leases
                .iter()
                // A never-used FREE address is implied by the configuration's ranges.
                .filter(|l| l.starts != 0 || l.client.is_some() || l.state != crate::lease::BindingState::Free)
                .map(|l| Entry::Lease(source.record_of(l))),
        ),
    );
    entries
}

/// Rewrite the file when it is this many times larger than the last compacted size.
const COMPACT_GROWTH: u64 = 4;
/// How long the journal waits for more commits before an fsync.
const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);
/// How soon a failed write is tried again when no new commit arrives.
const RETRY_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long records appended without a sync of their own (`record_acked`) may wait for one.
const LAZY_SYNC: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes of such records that make a sync due at once (bounds the buffer).
const LAZY_BYTES: usize = 4 << 20;
/// Maximum jobs in one group commit.
const MAX_BATCH: usize = 4096;

pub struct Journal {
    tx: Option<ChanSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// A cheap handle workers use to submit commits.
#[derive(Clone)]
pub struct JournalHandle {
    tx: ChanSender<Job>,
}

impl JournalHandle {
    pub fn commit(&self, records: Vec<Lease>, reply: Option<(Reply, u32)>) {
        // The receiver lives until shutdown, after workers stopped.
        let _ = self.tx.send(Job::Commit { records, lazy: false, reply, replicate: true, done: None });
    }

    /// Persist an OMAPI-created (or deleted) host.
    pub fn host(&self, rec: HostRecord) {
        let _ = self.tx.send(Job::Host(rec));
    }

    /// Commit without telling the partner (bookkeeping of the partner's own acks).
    pub fn commit_local(&self, records: Vec<Lease>) {
        let _ = self.tx.send(Job::Commit { records, lazy: false, reply: None, replicate: false, done: None });
    }

    /// The partner's acks of our updates (their `tsfp`): appended, but not synced on their
    /// own; the next batch that syncs covers them, or a sync within `LAZY_SYNC`. Losing
    /// them in a crash only makes us send those updates again. dhcpd does the same (it
    /// writes an acked lease and commits two seconds later, so that a run of acks costs one
    /// fsync); here each batch of acks read cost an fsync on the primary, ~100 in a resync
    /// of 100,000 leases, on the disk its partner is syncing the same leases to when both
    /// share one (the benches).
    pub fn record_acked(&self, records: Vec<Lease>) {
        let _ = self.tx.send(Job::Commit { records, lazy: true, reply: None, replicate: false, done: None });
    }

    /// Commit and wait until durable; `replicate: false` for the partner's own updates.
    pub async fn commit_wait(&self, records: Vec<Lease>, replicate: bool) -> bool {
        self.commit_submit(records, replicate).await.unwrap_or(false)
    }

    /// Commit; the receiver says whether it became durable (an error: the journal is gone,
    /// not durable). Commits submitted one after the other complete in that order.
    pub fn commit_submit(&self, records: Vec<Lease>, replicate: bool) -> tokio::sync::oneshot::Receiver<bool> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A send error drops `tx`: the receiver then reports the commit failed.
        let _ = self.tx.send(Job::Commit { records, lazy: false, reply: None, replicate, done: Some(tx) });
        rx
    }

    /// Persist a failover state record and wait until it is durable.
    pub async fn state_wait(&self, rec: FailoverStateRecord) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Job::State(rec, tx)).is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Rewrite the lease file from the lease store as soon as the current batch is durable.
    pub fn request_compaction(&self) {
        let _ = self.tx.send(Job::Compact);
    }
}

/// Where the replies that waited for their commit go (the DHCP socket in the server).
pub trait ReplySink: Send + Sync + 'static {
    fn send(&self, reply: &Reply, ifindex: u32);
}

/// Starts the journal thread. Its first job rewrites the file from `leases` (a restart
/// leaves a compact file behind it), beside the first commits.
pub fn spawn(
    mut file: JournalFile,
    leases: Arc<dyn LeaseSource>,
    sender: Arc<dyn ReplySink>,
    stats: Arc<Stats>,
    replicator: Replicator,
    mut states: std::collections::BTreeMap<String, FailoverStateRecord>,
    mut hosts: std::collections::BTreeMap<String, HostRecord>,
) -> Result<Journal> {
    // Bounded: if the disk stalls, workers block instead of queueing without limit.
    let (tx, rx): (ChanSender<Job>, Receiver<Job>) = channel::bounded(65_536);
    // The file as read (its torn tail already cut by `JournalFile::open`) is appended to at
    // once; its rewrite from the store runs beside the first batches instead of before them
    // (a million leases took seconds before the server could answer).
    tx.send(Job::Compact).map_err(|e| anyhow::anyhow!("journal queue: {e}"))?;
    let mut compacted = file.len().max(1);
    let thread = std::thread::Builder::new().name("journal".into()).spawn(move || {
        // The compaction being written on its own thread, if any: its result arrives here.
        let mut background: Option<Receiver<Result<dhcp_journal::file::Compacted, dhcp_journal::JournalError>>> = None;
        let mut replies: Vec<(Reply, u32)> = Vec::new();
        let mut to_replicate: Vec<(Lease, bool)> = Vec::new();
        let mut waiters: Vec<tokio::sync::oneshot::Sender<bool>> = Vec::new();
        // Leases of the batch to log once durable; only gathered when the lease log is on.
        let mut durable_log: Vec<Lease> = Vec::new();
        // Since when lazily appended records wait for a sync, if any do.
        let mut lazy_since: Option<Instant> = None;
        loop {
            // After a failed write, records wait in the file and changes wait for their
            // replication: try again within a second even if nothing new arrives.
            let first = if to_replicate.is_empty() && file.pending() == 0 && background.is_none() {
                match rx.recv() {
                    Ok(j) => Some(j),
                    Err(_) => break,
                }
            } else {
                match rx.recv_timeout(RETRY_AFTER_FAILURE) {
                    Ok(j) => Some(j),
                    Err(channel::RecvTimeoutError::Timeout) => None,
                    Err(channel::RecvTimeoutError::Disconnected) => break,
                }
            };
            let lease_log = tracing::enabled!(target: LEASE_LOG, tracing::Level::DEBUG);
            // Group commit window: gather what arrives within COMMIT_WINDOW of the first job,
            // so one fsync covers many ACKs under load (at the cost of that much latency).
            // One sleep, then drain: a wakeup per batch rather than per job. Only a client's
            // reply opens the window: a failover job (the partner's bindings, already one
            // batch of up to max-unacked-updates, or a state record) stalls its whole
            // relationship until durable, so it is synced at once; whatever arrives during
            // that fsync forms the next batch. (Pool balancing of a fresh pair: 1.23 s with
            // the window for every job, see `bench failover --balance-only`.)
            let wants_window = matches!(&first, Some(Job::Commit { reply: Some(_), .. }));
            let mut jobs: Vec<Job> = first.into_iter().collect();
            if wants_window {
                std::thread::sleep(COMMIT_WINDOW);
            }
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let mut compact_now = false;
            let mut stop = false;
            // A batch syncs unless every job in it is lazy (or it is empty: the wait for
            // more jobs timed out, and what waits is synced now).
            let mut must_sync = jobs.is_empty();
            for job in jobs {
                match job {
                    Job::Stop => stop = true,
                    Job::Commit { records, lazy, reply, replicate, done } => {
                        if lazy && records.iter().all(|l| l.ddns.is_none()) {
                            lazy_since.get_or_insert_with(Instant::now);
                        } else {
                            must_sync = true;
                        }
                        for l in &records {
                            file.append(&Entry::Lease(appended(leases.as_ref(), l)));
                        }
                        if lease_log {
                            durable_log.extend(records.iter().cloned());
                        }
                        replies.extend(reply);
                        if replicate {
                            to_replicate.extend(records.into_iter().map(|l| (l, true)));
                        } else {
                            to_replicate.extend(records.into_iter().filter(|l| l.ddns.is_some()).map(|l| (l, false)));
                        }
                        waiters.extend(done);
                    }
                    Job::Host(rec) => {
                        must_sync = true;
                        file.append(&Entry::Host(rec.clone()));
                        hosts.insert(rec.name.clone(), rec);
                    }
                    Job::State(rec, done) => {
                        must_sync = true;
                        file.append(&Entry::FailoverState(rec.clone()));
                        states.insert(rec.peer.clone(), rec);
                        waiters.push(done);
                    }
                    Job::Compact => compact_now = true,
                }
            }
            let lazy_due = lazy_since.is_some_and(|t| t.elapsed() >= LAZY_SYNC) || file.pending() >= LAZY_BYTES;
            if !(must_sync || lazy_due || stop || compact_now || file.needs_rewrite()) {
                continue;
            }
            lazy_since = None;
            let t0 = Instant::now();
            // After a failed fdatasync the file's recent bytes are unknown (the kernel may
            // have dropped them and would not say so again): rewrite it whole from the store,
            // which holds every change of the failed batches too, before anything more can
            // count as durable.
            if file.needs_rewrite() {
                // Complete in itself: a compaction in flight is dropped.
                background = None;
                let entries = compacted_entries(states.values(), hosts.values(), &leases.snapshot(), leases.as_ref());
                match file.compact(entries.iter()) {
                    Ok(n) => {
                        compacted = n.max(1);
                        tracing::warn!(bytes = n, "lease file rewritten after a failed fdatasync");
                    }
                    Err(e) => tracing::error!("lease file rewrite after a failed fdatasync failed: {e}"),
                }
            }
            let synced = file.sync();
            match &synced {
                Ok(_) => {
                    stats.fsync(t0.elapsed());
                    for l in durable_log.drain(..) {
                        log_lease(&l);
                    }
                    // dhcpd's order: lease written, update queued for the partner, then ACK.
                    for (l, ours) in to_replicate.drain(..) {
                        replicator(&l, ours);
                    }
                    for (reply, ifindex) in replies.drain(..) {
                        sender.send(&reply, ifindex);
                    }
                    for w in waiters.drain(..) {
                        let _ = w.send(true);
                    }
                }
                Err(e) => {
                    // Not durable: the ACKs must not go out (clients retry); say why loudly.
                    // The records become durable with the next sync that succeeds (a write
                    // error leaves them queued; an fdatasync error makes the next batch
                    // rewrite the file from the store first): their changes are replicated
                    // then, not forgotten (the simulation's disk faults showed partners left
                    // disagreeing).
                    tracing::error!("lease file write failed, {} replies withheld: {e}", replies.len());
                    stats.journal_error();
                    replies.clear();
                    durable_log.clear();
                    for w in waiters.drain(..) {
                        let _ = w.send(false);
                    }
                }
            }
            // A compaction written meanwhile goes in place here, between batches, with
            // nothing queued (the batch was just synced): see `LeaseSource` for why nothing
            // durable can be dropped.
            if synced.is_ok()
                && file.pending() == 0
                && let Some(rx) = &background
            {
                match rx.try_recv() {
                    Ok(Ok(c)) => {
                        background = None;
                        match file.install(c) {
                            Ok(n) => {
                                compacted = n.max(1);
                                tracing::info!(bytes = n, "lease file compacted");
                            }
                            Err(e) => tracing::error!("lease file compaction failed (old file kept): {e}"),
                        }
                    }
                    Ok(Err(e)) => {
                        background = None;
                        file.abort_compaction();
                        tracing::error!("lease file compaction failed (old file kept): {e}");
                    }
                    Err(channel::TryRecvError::Empty) => {}
                    Err(channel::TryRecvError::Disconnected) => {
                        background = None;
                        file.abort_compaction();
                    }
                }
            }
            // Rewriting a file of a million leases takes long enough to hold ACKs back for
            // hundreds of milliseconds: the snapshot is formatted and written on its own
            // thread while batches go on here, and the file is swapped in when ready.
            let grown = file.len() > COMPACT_GROWTH * compacted.max(64 * 1024);
            if (compact_now || grown) && background.is_none() && !file.needs_rewrite() {
                file.begin_compaction();
                let (tx, rx) = channel::bounded(1);
                let (states, hosts, leases, path) =
                    (states.clone(), hosts.clone(), leases.clone(), file.path().to_path_buf());
                let spawned = std::thread::Builder::new().name("compactor".into()).spawn(move || {
                    let entries =
                        compacted_entries(states.values(), hosts.values(), &leases.snapshot(), leases.as_ref());
                    let _ = tx.send(dhcp_journal::file::write_compacted(&path, entries.iter()));
                });
                match spawned {
                    Ok(_) => background = Some(rx),
                    Err(e) => {
                        file.abort_compaction();
                        tracing::error!("lease file compaction not started: {e}");
                    }
                }
            }
            if stop {
                break;
            }
        }
        if file.needs_rewrite()
            && let Err(e) = file
                .compact(compacted_entries(states.values(), hosts.values(), &leases.snapshot(), leases.as_ref()).iter())
        {
            tracing::error!("lease file rewrite after a failed fdatasync failed: {e}");
        }
        if let Err(e) = file.sync() {
            tracing::error!("final lease file sync failed: {e}");
        }
    })?;
    Ok(Journal { tx: Some(tx), thread: Some(thread) })
}

impl Journal {
    pub fn handle(&self) -> JournalHandle {
        JournalHandle { tx: self.tx.clone().unwrap_or_else(|| channel::bounded(1).0) }
    }

    /// Flush what is queued and stop the thread.
    pub fn shutdown(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Job::Stop);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::{BindingState, ClientKey, LeaseStore};
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct NoReplies;
    impl ReplySink for NoReplies {
        fn send(&self, _: &Reply, _: u32) {}
    }

    /// A scratch directory removed when dropped (also when the test fails).
    struct Scratch(std::path::PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let p = std::env::temp_dir().join(format!("xdhcpd-journal-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("scratch dir");
            Scratch(p)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn bound(ip: Ipv4Addr, n: u32) -> Lease {
        let mut l = Lease::free(ip, 0);
        l.state = BindingState::Active;
        l.starts = 1_000_000 + n;
        l.ends = 2_000_000 + n;
        l.cltt = l.starts;
        l.client = Some(ClientKey::from_client_id(&n.to_be_bytes()));
        l
    }

    /// The leases in the lease file as a restart would read it right now.
    fn leases_on_disk(path: &std::path::Path) -> std::collections::HashMap<Ipv4Addr, dhcp_journal::LeaseRecord> {
        let bytes = std::fs::read(path).expect("read lease file");
        let state = dhcp_journal::record::fold(dhcp_journal::parse(&bytes).entries);
        state.leases.iter().map(|r| (r.ip, r.clone())).collect()
    }

    /// The journal thread over the lease file at `path` and `store`: no replies, no partner.
    fn journal_over(path: &std::path::Path, store: &Arc<LeaseStore>) -> Journal {
        let (file, _) = JournalFile::open(path).expect("open lease file");
        spawn(
            file,
            store.clone(),
            Arc::new(NoReplies),
            Arc::new(Stats::default()),
            Arc::new(|_: &Lease, _| {}),
            Default::default(),
            Default::default(),
        )
        .expect("journal thread")
    }

    /// The partner's acks of our updates are appended without a sync of their own: the next
    /// commit that syncs makes them durable with it (in file order, before its own records),
    /// and with nothing else to sync they are synced within `LAZY_SYNC` anyway.
    #[test]
    fn acked_records_ride_on_the_next_sync_or_are_synced_within_a_second() {
        let dir = Scratch::new("lazy");
        let path = dir.0.join("dhcpd.leases");
        let store = Arc::new(LeaseStore::new(1));
        let ips = [10, 11, 12].map(|n| Ipv4Addr::new(198, 18, 0, n));
        store.add_range(0, ips[0], ips[2]);
        // Not in the store: the start-up compaction's snapshot then holds none of them, and
        // each reaches the file only through the journal's own writes.
        let leases: Vec<Lease> = ips.iter().zip(1..).map(|(ip, n)| bound(*ip, n)).collect();
        let journal = journal_over(&path, &store);
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        // Past the start-up batch (its compaction job syncs whatever shares its batch).
        assert!(rt.block_on(journal.handle().commit_wait(vec![leases[1].clone()], false)));
        let sent = Instant::now();
        journal.handle().record_acked(vec![leases[0].clone()]);
        std::thread::sleep(std::time::Duration::from_millis(100));
        // Not written on its own (only checkable while the lazy deadline is surely ahead).
        if sent.elapsed() < LAZY_SYNC / 2 {
            assert!(!leases_on_disk(&path).contains_key(&ips[0]), "an acked record was synced on its own");
        }
        assert!(rt.block_on(journal.handle().commit_wait(vec![leases[1].clone()], false)));
        let on_disk = leases_on_disk(&path);
        assert!(
            on_disk.contains_key(&ips[0]) && on_disk.contains_key(&ips[1]),
            "the commit's sync covers the ack's record"
        );
        journal.handle().record_acked(vec![leases[2].clone()]);
        // Bounded wait for the lazy sync (due within LAZY_SYNC of nothing else arriving).
        let waited = Instant::now();
        while !leases_on_disk(&path).contains_key(&ips[2]) {
            assert!(waited.elapsed() < LAZY_SYNC * 10, "an acked record was never synced");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        journal.shutdown();
    }

    /// Issue 10's last hole: two changes of one address reach the journal in the opposite
    /// order of the one they were made in (a worker binds, is descheduled before its commit;
    /// the partner's newer update is applied and committed first). The lease file's last
    /// record of the address must be the newer one, which memory holds: a restart folds the
    /// file back to whatever record is last.
    #[test]
    fn a_late_commit_does_not_write_an_older_binding_last() {
        let dir = Scratch::new("late");
        let path = dir.0.join("dhcpd.leases");
        let store = Arc::new(LeaseStore::new(1));
        let ip = Ipv4Addr::new(198, 18, 0, 10);
        store.add_range(0, ip, ip);
        let journal = journal_over(&path, &store);
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        // The worker's binding, made in the store; its commit is not sent yet.
        let older = bound(ip, 1);
        assert!(store.restore(older.clone()));
        // The partner's update of the same address: applied after it, committed before it.
        let newer = bound(ip, 2);
        assert!(store.restore(newer.clone()));
        assert!(rt.block_on(journal.handle().commit_wait(vec![newer.clone()], false)));
        // The worker's commit, late.
        assert!(rt.block_on(journal.handle().commit_wait(vec![older.clone()], true)));
        journal.shutdown();
        let on_disk = leases_on_disk(&path);
        let last = on_disk.get(&ip).expect("the address has a record");
        assert_eq!(
            (last.starts, last.ends),
            (Some(newer.starts), Some(newer.ends)),
            "the file's last record of {ip} is the older binding (memory holds the newer)"
        );
    }

    /// Issue 10's first hole, as the server runs: workers bind in the store and commit, the
    /// ACK leaves once the commit is durable, while compaction is requested over and over (the
    /// server's tick). A checker reads the file at arbitrary moments, which is what a kill -9
    /// at that moment would leave: every lease confirmed durable before the read must be in it.
    #[test]
    fn compaction_never_drops_a_durable_lease() {
        let dir = Scratch::new("compact");
        let path = dir.0.join("dhcpd.leases");
        let store = Arc::new(LeaseStore::new(1));
        let (first, last) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 7, 254));
        store.add_range(0, first, last);
        let journal = journal_over(&path, &store);
        let stop = Arc::new(AtomicBool::new(false));
        let compactor = {
            let (handle, stop) = (journal.handle(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    handle.request_compaction();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            })
        };
        let confirmed: Arc<std::sync::Mutex<Vec<Ipv4Addr>>> = Default::default();
        // Several workers, as in the server: while one waits for its batch, others bind.
        const WORKERS: u32 = 4;
        const PER_WORKER: u32 = 400;
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (handle, store, confirmed) = (journal.handle(), store.clone(), confirmed.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
                    for n in (0..PER_WORKER).map(|i| i * WORKERS + w) {
                        let l = bound(Ipv4Addr::from(u32::from(first) + n), n);
                        assert!(store.restore(l.clone()));
                        assert!(rt.block_on(handle.commit_wait(vec![l.clone()], false)), "commit of {} failed", l.ip);
                        confirmed.lock().expect("confirmed list").push(l.ip);
                    }
                })
            })
            .collect();
        let mut lost: Vec<Ipv4Addr> = Vec::new();
        let mut reads = 0;
        while !workers.iter().all(|w| w.is_finished()) {
            let acked = confirmed.lock().expect("confirmed list").clone();
            let on_disk = leases_on_disk(&path);
            reads += 1;
            lost.extend(
                acked
                    .iter()
                    .filter(|ip| on_disk.get(ip).map(|r| r.binding_state) != Some(dhcp_journal::BindingState::Active)),
            );
            if !lost.is_empty() {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().expect("worker thread");
        }
        compactor.join().expect("compactor thread");
        journal.shutdown();
        assert!(
            lost.is_empty(),
            "a crash after read {reads} would lose {} acknowledged leases, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        let on_disk = leases_on_disk(&path);
        let total = confirmed.lock().expect("confirmed list").len();
        assert_eq!(total, (WORKERS * PER_WORKER) as usize);
        assert!(confirmed.lock().expect("confirmed list").iter().all(|ip| on_disk.contains_key(ip)));
    }
}
