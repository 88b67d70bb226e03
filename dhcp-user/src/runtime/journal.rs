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
use dhcp_journal::{Entry, JournalFile};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

enum Job {
    Commit { records: Vec<Lease>, reply: Option<(Reply, u32)> },
    Compact(Vec<Lease>),
}

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
        let _ = self.tx.send(Job::Commit { records, reply });
    }

    pub fn compact(&self, snapshot: Vec<Lease>) {
        let _ = self.tx.send(Job::Compact(snapshot));
    }
}

pub fn spawn(mut file: JournalFile, sender: Arc<Sender>, stats: Arc<Stats>) -> Result<Journal> {
    // Bounded: if the disk stalls, workers block instead of queueing without limit.
    let (tx, rx): (ChanSender<Job>, Receiver<Job>) = channel::bounded(65_536);
    let size = Arc::new(AtomicU64::new(file.len()));
    let compacted = Arc::new(AtomicU64::new(file.len().max(1)));
    let (size2, compacted2) = (size.clone(), compacted.clone());
    let thread = std::thread::Builder::new().name("journal".into()).spawn(move || {
        let mut replies: Vec<(Reply, u32)> = Vec::new();
        while let Ok(first) = rx.recv() {
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
            for job in jobs {
                match job {
                    Job::Commit { records, reply } => {
                        for l in &records {
                            file.append(&Entry::Lease(record::to_record(l)));
                        }
                        replies.extend(reply);
                    }
                    Job::Compact(snapshot) => compact_with = Some(snapshot),
                }
            }
            let t0 = Instant::now();
            match file.sync() {
                Ok(_) => {
                    stats.fsync(t0.elapsed());
                    for (reply, ifindex) in replies.drain(..) {
                        sender.send(&reply, ifindex);
                    }
                }
                Err(e) => {
                    // Not durable: the ACKs must not go out. Clients retry; say why loudly.
                    tracing::error!("lease file write failed, {} replies withheld: {e}", replies.len());
                    stats.journal_error();
                    replies.clear();
                }
            }
            if let Some(snapshot) = compact_with {
                let entries: Vec<Entry> = snapshot
                    .iter()
                    .filter(|l| l.starts != 0 || l.client.is_some())
                    .map(|l| Entry::Lease(record::to_record(l)))
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
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
