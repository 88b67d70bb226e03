//! Dynamic DNS, the IO side: a bounded queue of jobs fed by the journal thread once a
//! lease change is durable (never on a request's path), run against the zones' servers
//! over UDP with retransmission and back-off, one job at a time per address (an add and
//! the removal that follows it stay in order) and a few addresses at once. What a job
//! did is written back into the lease's binding scope (`set ddns-fwd-name = ...;` in the
//! lease file) so that a restart knows what to remove. A host's fixed address
//! (`update-static-leases`) is the exception: its jobs come from the worker that sends
//! the ACK, and nothing of them is kept, as in dhcpd.

use crate::ddns::update::{Exchange, Progress, Zones};
use crate::ddns::{self, Job};
use crate::dhcp::Engine;
use crate::lease::{BindingState, Lease};
use crate::runtime::journal::JournalHandle;
use crate::stats::Stats;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Jobs waiting at most (beyond: dropped, counted and logged).
pub const QUEUE: usize = 16_384;
/// Addresses whose jobs run at once (so at most this many requests in flight), unless
/// `XDHCPD_DDNS_IN_FLIGHT` says otherwise (1 to 4,096; for `bench server ddns rate`, which
/// tries several levels against the same BIND). BIND applies a zone's updates one at a
/// time, with an fsync of its journal each, so more in flight only queues them there:
/// BIND alone answered the most at 16 in two runs of that bench and at 64 in a third
/// (timeouts and retransmissions at 256 in all), xdhcpd's best level moved with the
/// machine's load: not settled on this shared machine.
const CONCURRENT: usize = 16;

fn in_flight() -> usize {
    std::env::var("XDHCPD_DDNS_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=4096).contains(n))
        .unwrap_or(CONCURRENT)
}
/// Wait for an answer before sending again.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// Back-off between retransmissions: doubles from 1 s up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The handle the journal's callback uses: queue a job, never wait.
#[derive(Clone)]
pub struct DdnsQueue {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

impl DdnsQueue {
    /// Queue the DNS work a durable lease change calls for, if any.
    pub fn lease_durable(&self, l: &Lease, engine: &Engine) {
        if let Some(job) = job_for(l, engine) {
            self.push(job);
        }
    }

    /// Queue a job now (a fixed address's updates: nothing to make durable first).
    pub fn push(&self, job: Job) {
        match self.tx.try_send(job) {
            Ok(()) => {
                self.stats.ddns.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.ddns.dropped.fetch_add(1, Ordering::Relaxed);
                let why = e.to_string();
                tracing::error!("DNS update for {} not queued ({QUEUE} jobs waiting): {why}", e.into_inner().ip());
            }
        }
    }
}

/// The job for a durable lease record: its new binding's updates, or the removal of
/// what an ended binding had added.
fn job_for(l: &Lease, engine: &Engine) -> Option<Job> {
    if let Some(job) = &l.ddns {
        return Some((**job).clone());
    }
    if matches!(l.state, BindingState::Active | BindingState::Bootp) {
        return None;
    }
    let vars = l.vars.as_deref()?;
    if !ddns::plan::has_records(vars) {
        return None;
    }
    let cfg = engine.config();
    let params = cfg.pool(l.pool).map(|(_, p)| p.params.ddns.clone()).unwrap_or_default();
    ddns::plan_end(l.ip, vars, &params).map(Job::Remove)
}

/// The queue (for the journal's callback, which may run before the task starts) and
/// its receiving end (for [`start`]).
pub fn queue(stats: Arc<Stats>) -> (DdnsQueue, mpsc::Receiver<Job>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (DdnsQueue { tx, stats }, rx)
}

/// Starts the DDNS task (inside the tokio runtime).
pub fn start(
    rx: mpsc::Receiver<Job>,
    queue: DdnsQueue,
    zones: Zones,
    local: Option<Ipv4Addr>,
    engine: Arc<Engine>,
    journal: JournalHandle,
) {
    let stats = queue.stats.clone();
    let ctx = Arc::new(Ctx { zones, local, engine, journal, stats, queue, links: Links::default() });
    tokio::spawn(dispatch(rx, ctx));
}

struct Ctx {
    zones: Zones,
    local: Option<Ipv4Addr>,
    engine: Arc<Engine>,
    journal: JournalHandle,
    stats: Arc<Stats>,
    queue: DdnsQueue,
    links: Links,
}

/// Whose turn it is: one job per address at a time, in arrival order (an add and the
/// removal behind it must not overtake each other), addresses in the order they became
/// ready. Every operation is O(1): the queue can hold [`QUEUE`] jobs.
#[derive(Default)]
struct Turns {
    waiting: HashMap<Ipv4Addr, VecDeque<Job>>,
    /// Addresses with a job waiting and none running.
    ready: VecDeque<Ipv4Addr>,
    /// Addresses with a job running.
    busy: HashSet<Ipv4Addr>,
}

impl Turns {
    fn arrive(&mut self, job: Job) {
        let ip = job.ip();
        let q = self.waiting.entry(ip).or_default();
        q.push_back(job);
        // A first job for an idle address makes it ready; behind a running or waiting
        // job it waits for [`Turns::done`].
        if q.len() == 1 && !self.busy.contains(&ip) {
            self.ready.push_back(ip);
        }
    }

    /// The next job to run, if an address is ready.
    fn start(&mut self) -> Option<Job> {
        while let Some(ip) = self.ready.pop_front() {
            if let Some(job) = self.waiting.get_mut(&ip).and_then(VecDeque::pop_front) {
                self.busy.insert(ip);
                return Some(job);
            }
        }
        None
    }

    /// `ip`'s running job ended: its next one, if any, is ready.
    fn done(&mut self, ip: Ipv4Addr) {
        self.busy.remove(&ip);
        match self.waiting.get(&ip) {
            Some(q) if !q.is_empty() => self.ready.push_back(ip),
            _ => {
                self.waiting.remove(&ip);
            }
        }
    }
}

/// Runs the queue's jobs in [`Turns`], at most [`in_flight`] at once.
async fn dispatch(mut rx: mpsc::Receiver<Job>, ctx: Arc<Ctx>) {
    let mut turns = Turns::default();
    let mut running = tokio::task::JoinSet::new();
    let limit = in_flight();
    tracing::debug!("DNS updates: up to {limit} jobs at once");
    loop {
        while running.len() < limit
            && let Some(job) = turns.start()
        {
            let ctx = ctx.clone();
            let ip = job.ip();
            running.spawn(async move {
                run(&ctx, job).await;
                ip
            });
        }
        tokio::select! {
            job = rx.recv() => {
                let Some(job) = job else { break };
                turns.arrive(job);
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                let Ok(ip) = done else { continue };
                ctx.stats.ddns.queued.fetch_sub(1, Ordering::Relaxed);
                turns.done(ip);
            }
        }
    }
}

/// Runs one job to its end, retrying what can succeed later.
async fn run(ctx: &Ctx, job: Job) {
    let ip = job.ip();
    let adds = matches!(job, Job::Add(_) | Job::Replace(..));
    // A fixed address's updates are kept nowhere (dhcpd's ddns_update_lease_text returns
    // at once for a static lease): no lease scope to write, nothing to undo later.
    let fixed = matches!(&job, Job::Add(a) if a.static_lease);
    let mut ex = Exchange::new(job, &ctx.zones);
    let mut backoff = Duration::from_secs(1);
    let mut server_turn = 0usize;
    let outcome = loop {
        if ex.is_finished() {
            break ex.finish();
        }
        let Some(zone) = ex.zone(&ctx.zones) else { break ex.finish() };
        let servers = zone.servers.clone();
        let Some(server) = servers.get(server_turn % servers.len().max(1)).copied() else { break ex.finish() };
        let step = ex.step();
        // The id is drawn before the message is built: unique among this server's
        // requests in flight, so that its answer finds this job.
        let (link, waiting) = match ctx.links.get(server, ctx.local, &ctx.stats).await {
            Ok(link) => {
                let w = link.register();
                (link, w)
            }
            Err(e) => {
                ctx.stats.ddns.retried.fetch_add(1, Ordering::Relaxed);
                ctx.stats.ddns.note(format!("{ip} {step:?}: no socket for {server}: {e}"));
                tracing::warn!(%ip, %server, "no socket for DNS updates: {e}; trying again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let req = match ex.request(&ctx.zones, waiting.id, now) {
            Ok(r) => r,
            Err(e) => {
                ctx.stats.ddns.fail(format!("{ip}: {e}"));
                tracing::error!(%ip, "DNS update not sent: {e}");
                break ex.finish();
            }
        };
        ctx.stats.ddns.sent.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%ip, ?step, %server, "DNS update: {}", ddns::update::describe(&req));
        match exchange(ctx, &mut ex, &link, waiting, server, &req).await {
            Ok(Progress::Finished(o)) => {
                ctx.stats.ddns.succeeded.fetch_add(1, Ordering::Relaxed);
                break o;
            }
            Ok(Progress::Next) => {
                ctx.stats.ddns.succeeded.fetch_add(1, Ordering::Relaxed);
                backoff = Duration::from_secs(1);
            }
            Ok(Progress::Retry) | Err(_) => {
                // No (acceptable) answer, or SERVFAIL: the next server, after a pause.
                ctx.stats.ddns.retried.fetch_add(1, Ordering::Relaxed);
                ctx.stats.ddns.note(format!("{ip} {step:?}: no answer from {server}, retrying"));
                tracing::warn!(%ip, ?step, %server, "no answer to a DNS update, trying again in {backoff:?}");
                server_turn += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    if outcome.conflict {
        ctx.stats.ddns.conflicts.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%ip, "DNS name held by another client (RFC 4703 conflict): not updated");
    }
    for (step, why) in &outcome.failed {
        ctx.stats.ddns.fail(format!("{ip} {step:?}: {why}"));
        tracing::error!(%ip, ?step, "DNS update failed: {why}");
    }
    if !fixed {
        keep(ctx, ip, adds, outcome);
    }
}

/// Sends `req` (built with `waiting`'s id) to `server` on the shared socket and waits
/// for its answer. `Err`: nothing acceptable came back in time.
async fn exchange(
    ctx: &Ctx,
    ex: &mut Exchange,
    link: &Link,
    mut waiting: Waiting,
    server: SocketAddrV4,
    req: &[u8],
) -> std::io::Result<Progress> {
    link.sock.send_to(req, server).await?;
    let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
    loop {
        let answer = match tokio::time::timeout_at(deadline, waiting.rx.recv()).await {
            Ok(Some(a)) => a,
            Ok(None) | Err(_) => return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer")),
        };
        match ex.handle_answer(&ctx.zones, &answer) {
            Ok(p) => return Ok(p),
            Err(e) => {
                ctx.stats.ddns.bad_answers.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%server, "DNS answer dropped: {e}");
                ctx.stats.ddns.note(format!("{server}: answer dropped: {e}"));
            }
        }
    }
}

/// One UDP socket per DNS server, shared by every job: a socket per message cost a
/// socket, a bind and a close each (most of the sender's CPU). Answers are routed to the
/// waiting job by DNS id; the socket is not connected so that an answer from another
/// address reaches us and is counted, not silently filtered.
#[derive(Default)]
struct Links {
    by_server: tokio::sync::Mutex<HashMap<SocketAddrV4, Arc<Link>>>,
}

impl Links {
    async fn get(
        &self,
        server: SocketAddrV4,
        local: Option<Ipv4Addr>,
        stats: &Arc<Stats>,
    ) -> std::io::Result<Arc<Link>> {
        let mut m = self.by_server.lock().await;
        if let Some(l) = m.get(&server)
            && !l.broken.load(Ordering::Relaxed)
        {
            return Ok(l.clone());
        }
        let bind = SocketAddr::from((local.unwrap_or(Ipv4Addr::UNSPECIFIED), 0));
        let sock = Arc::new(tokio::net::UdpSocket::bind(bind).await?);
        let link = Arc::new(Link {
            sock,
            pending: std::sync::Mutex::new(HashMap::new()),
            broken: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(read_answers(link.clone(), server, stats.clone()));
        m.insert(server, link.clone());
        Ok(link)
    }
}

struct Link {
    sock: Arc<tokio::net::UdpSocket>,
    /// The requests in flight to this server: id → the waiting job.
    pending: std::sync::Mutex<HashMap<u16, mpsc::Sender<Vec<u8>>>>,
    /// The socket failed to read: the next request opens a new one.
    broken: std::sync::atomic::AtomicBool,
}

/// A job's place in a [`Link`]'s table; leaving it frees the id.
struct Waiting {
    link: Arc<Link>,
    id: u16,
    rx: mpsc::Receiver<Vec<u8>>,
}

impl Link {
    /// A random id not in flight to this server (at most [`in_flight`] are), and the
    /// receiving end of its answers.
    fn register(self: &Arc<Self>) -> Waiting {
        // A few answers may come for one id (a spoof, a duplicate): the job reads them
        // in turn until one checks out.
        let (tx, rx) = mpsc::channel(4);
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut id = rand_id();
        while p.contains_key(&id) {
            id = rand_id();
        }
        p.insert(id, tx);
        Waiting { link: self.clone(), id, rx }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.link.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
    }
}

/// Routes a server's answers to the jobs waiting for them. An answer from another
/// address, too short to hold an id, or for no request in flight is dropped and counted
/// (`bad_answers`).
async fn read_answers(link: Arc<Link>, server: SocketAddrV4, stats: Arc<Stats>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match link.sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // Not expected on an unconnected UDP socket; a new socket for the next
                // request rather than a loop on a failing one.
                tracing::warn!(%server, "DNS update socket: {e}; opening another");
                link.broken.store(true, Ordering::Relaxed);
                return;
            }
        };
        let bytes = buf.get(..n).unwrap_or(&[]);
        let bad = |why: String| {
            stats.ddns.bad_answers.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%server, "DNS answer dropped: {why}");
            stats.ddns.note(format!("{server}: answer dropped: {why}"));
        };
        if from != SocketAddr::V4(server) {
            bad(format!("from {from}, not the server"));
            continue;
        }
        let Some(id) = bytes.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            bad(format!("{n} bytes"));
            continue;
        };
        let tx = link.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned();
        match tx {
            Some(tx) => {
                if tx.try_send(bytes.to_vec()).is_err() {
                    bad(format!("id {id}: more answers than expected"));
                }
            }
            None => bad(format!("id {id}: no request in flight")),
        }
    }
}

/// Writes what a job did into the lease's binding scope (and the lease file). An add
/// whose lease ended meanwhile is undone instead.
fn keep(ctx: &Ctx, ip: Ipv4Addr, adds: bool, outcome: ddns::Outcome) {
    if outcome.vars.is_empty() {
        return;
    }
    let mut ended = None;
    let mut pool = None;
    let updated = ctx.engine.store().update(ip, |l| {
        pool = Some(l.pool);
        let bound = matches!(l.state, BindingState::Active | BindingState::Bootp);
        if adds && !bound {
            // The binding ended while its records were being added: remove them.
            let mut v = dhcp_config::Vars::default();
            for (n, val) in &outcome.vars {
                v.set(n, val.clone());
            }
            ended = Some(v);
            return;
        }
        if !adds && bound {
            // A new binding since: its own variables stand.
            return;
        }
        let mut v = l.vars.take().map(|b| *b).unwrap_or_default();
        for (n, val) in &outcome.vars {
            v.set(n, val.clone());
        }
        l.vars = (!v.0.is_empty()).then(|| Box::new(v));
    });
    if let Some(v) = ended {
        let cfg = ctx.engine.config();
        let params = pool.and_then(|p| cfg.pool(p)).map(|(_, p)| p.params.ddns.clone()).unwrap_or_default();
        if let Some(r) = ddns::plan_end(ip, &v, &params) {
            ctx.queue.push(Job::Remove(r));
        }
        return;
    }
    if let Some(mut l) = updated {
        l.ddns = None;
        if adds && ctx.engine.relationship_of(l.pool).is_some() {
            // The failover partner learns what was added (option 29 of the BNDUPD), so
            // that it can remove it if it is the one to end the lease.
            ctx.journal.commit(vec![l], None);
        } else {
            ctx.journal.commit_local(vec![l]);
        }
    }
}

fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    if getrandom::fill(&mut b).is_err() {
        let t =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        return t as u16;
    }
    u16::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removal(ip: Ipv4Addr) -> Job {
        Job::Remove(ddns::RemoveJob {
            ip,
            fwd: None,
            rev_name: None,
            client_fqdn: false,
            conflict_detection: true,
            guard_id_must_match: true,
        })
    }

    /// A second job for an address whose first is running waits for it (the dispatcher
    /// of main started it at once, beside the first), and other addresses go meanwhile.
    #[test]
    fn one_job_per_address_at_a_time_in_order() {
        let (a, b) = (Ipv4Addr::new(198, 18, 1, 1), Ipv4Addr::new(198, 18, 1, 2));
        let mut t = Turns::default();
        t.arrive(removal(a));
        assert_eq!(t.start().map(|j| j.ip()), Some(a));
        t.arrive(removal(a));
        t.arrive(removal(b));
        assert_eq!(t.start().map(|j| j.ip()), Some(b));
        assert!(t.start().is_none(), "a's second job must wait for its first");
        t.done(a);
        assert_eq!(t.start().map(|j| j.ip()), Some(a));
        t.done(a);
        t.done(b);
        assert!(t.start().is_none());
        assert!(t.waiting.is_empty() && t.busy.is_empty() && t.ready.is_empty());
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// The shared socket routes an answer to the job whose id it carries, and drops and
    /// counts one from another address or for no request in flight.
    #[test]
    fn answers_are_routed_by_id_and_strangers_are_counted() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let lo = Ipv4Addr::LOCALHOST;
            let server = tokio::net::UdpSocket::bind((lo, 0)).await.expect("server");
            let stranger = tokio::net::UdpSocket::bind((lo, 0)).await.expect("stranger");
            let SocketAddr::V4(server_addr) = server.local_addr().expect("addr") else { panic!("v4") };
            let stats = Arc::new(Stats::default());
            let links = Links::default();
            let link = links.get(server_addr, Some(lo), &stats).await.expect("link");
            let ours = link.sock.local_addr().expect("addr");
            let mut a = link.register();
            let mut b = link.register();
            assert_ne!(a.id, b.id);
            // The same link for the same server: one socket, not one per message.
            let again = links.get(server_addr, Some(lo), &stats).await.expect("link");
            assert!(Arc::ptr_eq(&link, &again));

            // The right id from the wrong address: dropped, counted, not delivered.
            stranger.send_to(&a.id.to_be_bytes(), ours).await.expect("send");
            settle().await;
            assert_eq!(stats.ddns.bad_answers.load(Ordering::Relaxed), 1);
            assert!(a.rx.try_recv().is_err());

            // From the server: to the job with that id only.
            server.send_to(&[&b.id.to_be_bytes()[..], b"rest"].concat(), ours).await.expect("send");
            settle().await;
            assert_eq!(b.rx.try_recv().expect("b's answer"), [&b.id.to_be_bytes()[..], b"rest"].concat());
            assert!(a.rx.try_recv().is_err());

            // An id no job waits for (a job gone: its id is free again), and a runt.
            let gone = b.id;
            drop(b);
            server.send_to(&gone.to_be_bytes(), ours).await.expect("send");
            server.send_to(&[7], ours).await.expect("send");
            settle().await;
            assert_eq!(stats.ddns.bad_answers.load(Ordering::Relaxed), 3);
            assert!(a.rx.try_recv().is_err());
            assert_eq!(link.pending.lock().expect("lock").len(), 1);
        });
    }
}
