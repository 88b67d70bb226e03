//! The journal thread: group commit of lease records, then the replies that waited for them.
//!
//! Workers hand over (records, reply). The thread takes everything queued, appends it to the
//! lease file, fsyncs once, then sends the replies: an ACK never leaves before its lease is
//! durable, and one fsync covers every ACK of the batch.

use super::Sender;
use crate::dhcp::Reply;
use crate::lease::{Lease, record};
use crate::stats::Stats;
use anyhow::Result;
use crossbeam::channel::{self, Receiver, Sender as ChanSender};
use dhcp_journal::{Entry, FailoverStateRecord, HostRecord, JournalFile};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

enum Job {
    Commit {
        records: Vec<Lease>,
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
    Compact(Vec<Lease>),
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

/// Where committed lease changes of failover pools go: the relationship's task.
pub type Replicator = Arc<dyn Fn(&Lease) + Send + Sync>;

/// Rewrite the file when it is this many times larger than the last compacted size.
const COMPACT_GROWTH: u64 = 4;
/// How long the journal waits for more commits before an fsync.
const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);
/// Maximum jobs in one group commit.
const MAX_BATCH: usize = 4096;

pub struct Journal {
    tx: Option<ChanSender<Job>>,
    thread: Option<JoinHandle<()>>,
    size: Arc<AtomicU64>,
    compacted: Arc<AtomicU64>,
}

/// A cheap handle workers use to submit commits.
#[derive(Clone)]
pub struct JournalHandle {
    tx: ChanSender<Job>,
}

impl JournalHandle {
    pub fn commit(&self, records: Vec<Lease>, reply: Option<(Reply, u32)>) {
        // The receiver lives until shutdown, after workers stopped.
        let _ = self.tx.send(Job::Commit { records, reply, replicate: true, done: None });
    }

    /// Persist an OMAPI-created (or deleted) host.
    pub fn host(&self, rec: HostRecord) {
        let _ = self.tx.send(Job::Host(rec));
    }

    /// Commit without telling the partner (bookkeeping of the partner's own acks).
    pub fn commit_local(&self, records: Vec<Lease>) {
        let _ = self.tx.send(Job::Commit { records, reply: None, replicate: false, done: None });
    }

    /// Commit and wait until durable; `replicate: false` for the partner's own updates.
    pub async fn commit_wait(&self, records: Vec<Lease>, replicate: bool) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Job::Commit { records, reply: None, replicate, done: Some(tx) }).is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Persist a failover state record and wait until it is durable.
    pub async fn state_wait(&self, rec: FailoverStateRecord) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Job::State(rec, tx)).is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    pub fn compact(&self, snapshot: Vec<Lease>) {
        let _ = self.tx.send(Job::Compact(snapshot));
    }
}

pub fn spawn(
    mut file: JournalFile,
    sender: Arc<Sender>,
    stats: Arc<Stats>,
    replicator: Replicator,
    mut states: std::collections::BTreeMap<String, FailoverStateRecord>,
    mut hosts: std::collections::BTreeMap<String, HostRecord>,
) -> Result<Journal> {
    // Bounded: if the disk stalls, workers block instead of queueing without limit.
    let (tx, rx): (ChanSender<Job>, Receiver<Job>) = channel::bounded(65_536);
    let size = Arc::new(AtomicU64::new(file.len()));
    let compacted = Arc::new(AtomicU64::new(file.len().max(1)));
    let (size2, compacted2) = (size.clone(), compacted.clone());
    let thread = std::thread::Builder::new().name("journal".into()).spawn(move || {
        let mut replies: Vec<(Reply, u32)> = Vec::new();
        let mut to_replicate: Vec<Lease> = Vec::new();
        let mut waiters: Vec<tokio::sync::oneshot::Sender<bool>> = Vec::new();
        // Leases of the batch to log once durable; only gathered when the lease log is on.
        let mut durable_log: Vec<Lease> = Vec::new();
        while let Ok(first) = rx.recv() {
            let lease_log = tracing::enabled!(target: LEASE_LOG, tracing::Level::DEBUG);
            // Group commit window: gather what arrives within COMMIT_WINDOW of the first job,
            // so one fsync covers many ACKs under load (at the cost of that much latency).
            // One sleep, then drain: a wakeup per batch rather than per job.
            let mut jobs = vec![first];
            std::thread::sleep(COMMIT_WINDOW);
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let mut compact_with = None;
            let mut stop = false;
            for job in jobs {
                match job {
                    Job::Stop => stop = true,
                    Job::Commit { records, reply, replicate, done } => {
                        for l in &records {
                            file.append(&Entry::Lease(record::to_record(l)));
                        }
                        if lease_log {
                            durable_log.extend(records.iter().cloned());
                        }
                        replies.extend(reply);
                        if replicate {
                            to_replicate.extend(records);
                        }
                        waiters.extend(done);
                    }
                    Job::Host(rec) => {
                        file.append(&Entry::Host(rec.clone()));
                        hosts.insert(rec.name.clone(), rec);
                    }
                    Job::State(rec, done) => {
                        file.append(&Entry::FailoverState(rec.clone()));
                        states.insert(rec.peer.clone(), rec);
                        waiters.push(done);
                    }
                    Job::Compact(snapshot) => compact_with = Some(snapshot),
                }
            }
            let t0 = Instant::now();
            match file.sync() {
                Ok(_) => {
                    stats.fsync(t0.elapsed());
                    for l in durable_log.drain(..) {
                        log_lease(&l);
                    }
                    // dhcpd's order: lease written, update queued for the partner, then ACK.
                    for l in to_replicate.drain(..) {
                        replicator(&l);
                    }
                    for (reply, ifindex) in replies.drain(..) {
                        sender.send(&reply, ifindex);
                    }
                    for w in waiters.drain(..) {
                        let _ = w.send(true);
                    }
                }
                Err(e) => {
                    // Not durable: the ACKs must not go out. Clients retry; say why loudly.
                    tracing::error!("lease file write failed, {} replies withheld: {e}", replies.len());
                    stats.journal_error();
                    replies.clear();
                    to_replicate.clear();
                    durable_log.clear();
                    for w in waiters.drain(..) {
                        let _ = w.send(false);
                    }
                }
            }
            if let Some(snapshot) = compact_with {
                // Failover state records first (dhcpd's layout), then one record per lease.
                let entries: Vec<Entry> = states
                    .values()
                    .cloned()
                    .map(Entry::FailoverState)
                    .chain(hosts.values().cloned().map(Entry::Host))
                    .chain(
                        snapshot
                            .iter()
                            .filter(|l| {
                                l.starts != 0 || l.client.is_some() || l.state != crate::lease::BindingState::Free
                            })
                            .map(|l| Entry::Lease(record::to_record(l))),
                    )
                    .collect();
                match file.compact(entries.iter()) {
                    Ok(n) => {
                        compacted2.store(n.max(1), Ordering::Relaxed);
                        tracing::info!(bytes = n, "lease file compacted");
                    }
                    Err(e) => {
                        tracing::error!("lease file compaction failed (old file kept): {e}")
                    }
                }
            }
            size2.store(file.len(), Ordering::Relaxed);
            if stop {
                break;
            }
        }
        if let Err(e) = file.sync() {
            tracing::error!("final lease file sync failed: {e}");
        }
    })?;
    Ok(Journal { tx: Some(tx), thread: Some(thread), size, compacted })
}

impl Journal {
    pub fn handle(&self) -> JournalHandle {
        JournalHandle { tx: self.tx.clone().unwrap_or_else(|| channel::bounded(1).0) }
    }

    pub fn needs_compaction(&self) -> bool {
        self.size.load(Ordering::Relaxed) > COMPACT_GROWTH * self.compacted.load(Ordering::Relaxed).max(64 * 1024)
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
