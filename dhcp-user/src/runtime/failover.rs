//! The failover shell: one task per relationship executes the actions of a sans-IO
//! `failover::relationship::Relationship` (the protocol and the engine-side rules, the same
//! code the simulator runs) with TCP/TLS, timers, the journal and the XDP program.
//!
//! Order of effects (dhcpd's, kept by the relationship): a state change is written to the
//! lease file and fsynced before any message of the new state is sent and before the engine
//! or the NIC act on it; a partner's update is applied and made durable before it is
//! acknowledged.
//!
//! Between the peer and the socket sit the link's transport (`peer_link`: TCP or mutual
//! TLS) and, per connection, a `dhcp_failover::LinkGuard` (message digests, the replay
//! rule, the configuration digest an xdhcpd partner gets). A guard error is logged,
//! counted, answered with a DISCONNECT saying why, and the connection is closed before the
//! peer sees the offending message.

use super::journal::JournalHandle;
use super::peer_link::{self, BoxStream, Tls};
use crate::dhcp::Engine;
use crate::failover::relationship::{Action, Note, Persist, Relationship, RelationshipConfig, Token};
use crate::failover::status::RelationshipStatus;
use crate::lease::Lease;
use crate::xdp::XdpProgram;
use dhcp_config::{Config, FailoverPeer, PeerAddress};
use dhcp_failover::drift::{ConfigSections, diff};
use dhcp_failover::peer::MAX_TIME_SKEW;
use dhcp_failover::transitions::ServiceLevel;
use dhcp_failover::{Command, Event, LinkError, LinkGuard, LinkKey, PeerConfig, PersistedState, Role, State, Time};
use dhcp_journal::FailoverStateRecord;
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Inputs from the rest of the server.
#[derive(Debug)]
pub enum Input {
    /// A lease of this relationship changed locally and is durable: tell the partner.
    LeaseChanged(Lease),
    /// An operator command (control socket, OMAPI).
    Operator(Command),
    /// Snapshot request for status.
    Status(tokio::sync::oneshot::Sender<RelationshipStatus>),
    /// Process exit: move to SHUTDOWN-style exit and persist.
    Exit(tokio::sync::oneshot::Sender<()>),
}

pub type Xdp = Arc<Mutex<Option<XdpProgram>>>;

/// The failover relationships' input channels, by peer name: how the control socket, OMAPI
/// and `/metrics` reach the relationship tasks.
pub type Rels = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Input>>>>;

/// How long a reader of the status waits for a relationship's task to answer.
const STATUS_WAIT: Duration = Duration::from_secs(2);

/// One relationship's status, from its task; `None` when it does not answer in time.
pub async fn status_of(tx: &mpsc::UnboundedSender<Input>) -> Option<RelationshipStatus> {
    let (reply, wait) = tokio::sync::oneshot::channel();
    tx.send(Input::Status(reply)).ok()?;
    tokio::time::timeout(STATUS_WAIT, wait).await.ok()?.ok()
}

/// Every relationship's status (those that answer in time), as `xdhcpd status` and
/// `/metrics` read it.
pub async fn statuses(rels: &Rels) -> Vec<RelationshipStatus> {
    let senders: Vec<_> = rels.lock().map(|r| r.values().cloned().collect()).unwrap_or_default();
    let mut out = Vec::with_capacity(senders.len());
    for tx in &senders {
        out.extend(status_of(tx).await);
    }
    out
}

/// dhcpd retries a dropped link after about 5 s; a refused connect() later.
const RECONNECT: Duration = Duration::from_secs(5);

struct Rel {
    name: String,
    cfg: FailoverPeer,
    /// The protocol and the engine-side rules; this task only executes what it asks.
    rel: Relationship,
    engine: Arc<Engine>,
    journal: JournalHandle,
    xdp: Xdp,
    epoch: Instant,
    /// The clock skew level already logged: 0 fine, 1 warned (above 5 s), 2 refused
    /// (above 60 s).
    skew_logged: u8,
    /// Replication lag: when each lease change not yet acknowledged by the partner became
    /// durable here (the oldest unacknowledged change of an address counts). At most one
    /// entry per address of the relationship's pools.
    unacked_since: HashMap<Ipv4Addr, Instant>,
    replication_lag: crate::stats::Histogram,
    /// Evidence from the XDP counters that the partner is not answering its clients.
    liveness: crate::xdp::liveness::PartnerLiveness,
    /// Whether the current episode of that evidence was already logged.
    liveness_warned: bool,
    /// `auth-key`: sign and check every message.
    key: Option<LinkKey>,
    /// `tls-*`: the link runs over mutual TLS.
    tls: Option<Arc<Tls>>,
    /// Our configuration sections as last sent (rebuilt for each connection from the
    /// configuration in force), compared with an xdhcpd partner's.
    sections: ConfigSections,
    /// Connections refused by the link layer or the TLS handshake, and the last reason.
    link_errors: u64,
    last_link_error: Option<String>,
    /// What differs from the partner's configuration (`None`: never compared, e.g. the
    /// partner is not xdhcpd).
    drift: Option<Vec<String>>,
    /// Lease writes the relationship asked for and awaits, oldest first (the journal
    /// completes them in that order). Not awaited inline: while the partner's bindings of
    /// one batch are being made durable, the task reads and applies the next batch (see
    /// `Relationship`, durability).
    writes: VecDeque<(Token, tokio::sync::oneshot::Receiver<bool>)>,
}

/// Clock skew between partners above which a warning is logged. Lease times and the MCLT are
/// absolute Unix times on the wire, so skew eats directly into the MCLT's safety margin.
const SKEW_WARN_SECS: i64 = 5;

fn now_time(epoch: Instant) -> Time {
    Time { unix: super::now().unix, mono_ms: epoch.elapsed().as_millis() as u64 }
}

pub fn to_persisted(r: &FailoverStateRecord) -> PersistedState {
    PersistedState {
        my_state: r.my_state,
        my_stos: r.my_stos,
        partner_state: r.partner_state,
        partner_stos: r.partner_stos,
        mclt: r.mclt.unwrap_or(0),
    }
}

/// The lease file's state record of a relationship (also what the simulator's lease file
/// writes).
pub fn state_record(name: &str, p: &PersistedState, role: Role) -> FailoverStateRecord {
    FailoverStateRecord {
        peer: name.to_string(),
        my_state: p.my_state,
        my_stos: p.my_stos,
        partner_state: p.partner_state,
        partner_stos: p.partner_stos,
        // dhcpd records the MCLT only on a secondary (it adopted the primary's).
        mclt: (role == Role::Secondary).then_some(p.mclt),
    }
}

fn peer_config(cfg: &FailoverPeer) -> PeerConfig {
    PeerConfig {
        name: cfg.name.clone(),
        role: cfg.role,
        mclt: cfg.mclt.unwrap_or(0),
        hba: match cfg.role {
            Role::Primary => Some(cfg.hba_or_default()),
            Role::Secondary => None,
        },
        max_unacked_updates: cfg.max_unacked_updates,
        max_response_delay: cfg.max_response_delay,
        auto_partner_down_secs: cfg.auto_partner_down,
        load_balance_max_secs: cfg.load_balance_max_seconds,
        vendor: format!("xdhcpd-{}", env!("CARGO_PKG_VERSION")),
    }
}

async fn resolve(a: &PeerAddress) -> Option<Ipv4Addr> {
    match a {
        PeerAddress::Ip(ip) => Some(*ip),
        PeerAddress::Name(name) => tokio::net::lookup_host((name.as_str(), 0)).await.ok()?.find_map(|sa| match sa {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        }),
    }
}

/// Start the relationship's task; returns its input channel. Fails when the relationship's
/// TLS files cannot be used.
pub fn spawn(
    config: &Config,
    cfg: FailoverPeer,
    persisted: Option<PersistedState>,
    engine: Arc<Engine>,
    journal: JournalHandle,
    xdp: Xdp,
    enforce_xdp: bool,
) -> anyhow::Result<mpsc::UnboundedSender<Input>> {
    let tls = match &cfg.tls {
        Some(t) => Some(Arc::new(
            peer_link::load_tls(t, &cfg.peer_address).map_err(|e| e.context(format!("failover peer {}", cfg.name)))?,
        )),
        None => None,
    };
    let key = peer_link::link_key(config, &cfg);
    let (tx, rx) = mpsc::unbounded_channel();
    let epoch = Instant::now();
    let rel_cfg = RelationshipConfig {
        peer: peer_config(&cfg),
        max_lease_misbalance: cfg.max_lease_misbalance,
        hot_standby_reserve_percent: cfg.hot_standby_reserve_percent,
        enforce_xdp,
    };
    let relationship = Relationship::new(rel_cfg, persisted, engine.clone(), now_time(epoch));
    let rel = Rel {
        name: cfg.name.clone(),
        cfg,
        rel: relationship,
        engine,
        journal,
        xdp,
        epoch,
        skew_logged: 0,
        unacked_since: HashMap::new(),
        replication_lag: crate::stats::Histogram::default(),
        liveness: Default::default(),
        liveness_warned: false,
        key,
        tls,
        sections: ConfigSections::new(),
        link_errors: 0,
        last_link_error: None,
        drift: None,
        writes: VecDeque::new(),
    };
    tokio::spawn(rel.run(rx));
    Ok(tx)
}

/// One connection to the partner: the stream's halves and its link layer.
struct Link {
    r: ReadHalf<BoxStream>,
    w: WriteHalf<BoxStream>,
    guard: LinkGuard,
}

impl Rel {
    fn now(&self) -> Time {
        now_time(self.epoch)
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        let local = resolve(&self.cfg.address).await;
        let remote = resolve(&self.cfg.peer_address).await;
        let (Some(local), Some(remote)) = (local, remote) else {
            tracing::error!(peer = %self.name, "failover peer {}: cannot resolve address or peer address; relationship inactive", self.name);
            return;
        };
        let listener = match TcpListener::bind((local, self.cfg.port)).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(
                    "failover peer {}: cannot listen on {local}:{}: {e}; connecting only",
                    self.name,
                    self.cfg.port
                );
                None
            }
        };
        tracing::info!(
            "failover peer {}: {} {local}:{} <-> {remote}:{}{}{}",
            self.name,
            self.role().name(),
            self.cfg.port,
            self.cfg.peer_port,
            if self.tls.is_some() { ", TLS" } else { "" },
            self.key.as_ref().map(|k| format!(", messages signed with key {}", k.name)).unwrap_or_default(),
        );
        let mut link: Option<Link> = None;
        let mut reconnect_at = tokio::time::Instant::now();
        // Large: every update read at once is applied and made durable with one fsync before
        // its acks go out, so the read size bounds the batch (8 KiB held a resync of 100,000
        // leases to ~90 updates per fsync: 4.5 s here; 256 KiB brings it near the window).
        let mut buf = vec![0u8; 256 * 1024];
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        let mut liveness_tick = tokio::time::interval(Duration::from_secs(1));
        // TLS handshakes run beside the loop: both servers connect to each other, and a
        // handshake awaited inline on each side would wait for the other's listener, which
        // is just as blocked (a deadlock until the timeout, on every reconnect).
        let mut handshakes: JoinSet<(std::io::Result<BoxStream>, bool)> = JoinSet::new();
        loop {
            self.execute(&mut link).await;
            self.flush(&mut link, &mut reconnect_at).await;
            self.check_skew();
            let wake = self
                .rel
                .poll_timeout()
                .map(|ms| {
                    let now_ms = self.epoch.elapsed().as_millis() as u64;
                    tokio::time::Instant::now() + Duration::from_millis(ms.saturating_sub(now_ms))
                })
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                acc = accept(listener.as_ref()) => {
                    let Ok((stream, from)) = acc else { continue };
                    // dhcpd's source-address rule: only the configured peer may connect.
                    if from.ip() != std::net::IpAddr::V4(remote) {
                        tracing::warn!("failover peer {}: connection from {from} refused (not {remote})", self.name);
                        continue;
                    }
                    self.start_handshake(&mut handshakes, stream, false);
                }
                Some(done) = handshakes.join_next() => {
                    let Ok((secured, outgoing)) = done else { continue };
                    if outgoing {
                        // Our attempt is over, whatever its outcome: the next one may start
                        // once there is no link (as after a failed connect()).
                        reconnect_at = tokio::time::Instant::now() + RECONNECT;
                    }
                    match secured {
                        // Our own connection, overtaken by the partner's: just close it.
                        Ok(_) if link.is_some() && outgoing => {}
                        Ok(stream) if link.is_some() => self.refuse_duplicate(stream).await,
                        Ok(stream) => {
                            let (r, w) = tokio::io::split(stream);
                            link = Some(Link { r, w, guard: self.new_guard() });
                            let now = self.now();
                            self.rel.handle_link_up(now);
                        }
                        Err(e) => {
                            // A plain-TCP partner answers a ClientHello with a failover
                            // message, which rustls reports as a bad record type.
                            let hint = if e.to_string().contains("InvalidContentType") {
                                " (the partner does not speak TLS: no tls-certificate/tls-key/tls-ca there?)"
                            } else {
                                ""
                            };
                            self.link_refused(format!(
                                "TLS handshake with the partner failed ({}): {e}{hint}",
                                if outgoing { "as client" } else { "as server" }
                            ));
                        }
                    }
                }
                _ = tokio::time::sleep_until(reconnect_at), if link.is_none() => {
                    match connect(local, remote, self.cfg.peer_port).await {
                        Ok(stream) => {
                            self.start_handshake(&mut handshakes, stream, true);
                            // No second attempt while this one is in its handshake (bounded
                            // by its timeout); its outcome sets the next attempt.
                            reconnect_at = tokio::time::Instant::now() + Duration::from_secs(3600);
                        }
                        Err(e) => {
                            tracing::debug!("failover peer {}: connect {remote}:{}: {e}", self.name, self.cfg.peer_port);
                            reconnect_at = tokio::time::Instant::now() + RECONNECT;
                        }
                    }
                }
                n = read(link.as_mut(), &mut buf) => {
                    let now = self.now();
                    match n {
                        Ok(0) | Err(_) => {
                            link = None;
                            reconnect_at = tokio::time::Instant::now() + RECONNECT;
                            self.rel.handle_link_down(now);
                        }
                        Ok(n) => {
                            if let Err(e) = self.receive(&mut link, now, buf.get(..n).unwrap_or(&[])).await {
                                tracing::debug!("failover peer {}: link closed after refusal: {e}", self.name);
                                reconnect_at = tokio::time::Instant::now() + RECONNECT;
                            }
                        }
                    }
                }
                (token, ok) = next_write(&mut self.writes), if !self.writes.is_empty() => {
                    let now = self.now();
                    self.rel.handle_durable(now, token, ok);
                }
                _ = tokio::time::sleep_until(wake) => {
                    let now = self.now();
                    self.rel.handle_timeout(now);
                }
                input = rx.recv() => {
                    let now = self.now();
                    match input {
                        Some(Input::LeaseChanged(l)) => {
                            self.unacked_since.entry(l.ip).or_insert_with(Instant::now);
                            self.rel.handle_local_change(now, &l);
                        }
                        Some(Input::Operator(cmd)) => {
                            tracing::info!("failover peer {}: operator command {cmd:?}", self.name);
                            self.rel.handle_operator(now, cmd);
                        }
                        Some(Input::Status(reply)) => { let _ = reply.send(self.status()); }
                        Some(Input::Exit(done)) => {
                            self.settle_writes(&mut link).await;
                            let now = self.now();
                            self.rel.handle_operator(now, Command::Shutdown);
                            self.execute(&mut link).await;
                            self.flush(&mut link, &mut reconnect_at).await;
                            let now = self.now();
                            self.rel.prepare_exit(now);
                            self.execute(&mut link).await;
                            let _ = done.send(());
                            return;
                        }
                        None => return,
                    }
                }
                _ = tick.tick() => {
                    // Whether the partner has free leases; a state record that could not be
                    // written is written again.
                    let now = self.now();
                    self.rel.handle_tick(now);
                }
                _ = liveness_tick.tick() => self.check_partner_liveness(),
            }
        }
    }

    /// A new TCP connection: its TLS handshake (when configured; immediate otherwise) runs
    /// as its own task, and the loop picks up the result.
    fn start_handshake(
        &self,
        handshakes: &mut JoinSet<(std::io::Result<BoxStream>, bool)>,
        stream: TcpStream,
        outgoing: bool,
    ) {
        let tls = self.tls.clone();
        handshakes.spawn(async move { (peer_link::secure(tls.as_deref(), stream, outgoing).await, outgoing) });
    }

    fn new_guard(&mut self) -> LinkGuard {
        self.sections = crate::failover::config_digest::sections(&self.engine.config(), &self.cfg);
        LinkGuard::new(self.key.clone(), peer_link::nonce(), Some(self.sections.encode()))
    }

    /// Logs and counts a refused connection: the operator must see it on this side even when
    /// the partner is the one misconfigured. The same cause again (every reconnect, 5 s
    /// apart) is only counted and logged at debug level: status keeps the count and cause.
    fn link_refused(&mut self, why: String) {
        if self.last_link_error.as_deref() == Some(why.as_str()) {
            tracing::debug!(peer = %self.name, "failover peer {}: link refused again: {why}", self.name);
        } else {
            tracing::error!(peer = %self.name, "failover peer {}: link refused: {why}", self.name);
        }
        self.link_errors += 1;
        self.last_link_error = Some(why);
    }

    /// Bytes from the partner: through the guard to the peer. A guard error closes the link
    /// (after telling the partner why) and is returned.
    async fn receive(&mut self, link: &mut Option<Link>, now: Time, data: &[u8]) -> Result<(), LinkError> {
        let Some(l) = link.as_mut() else { return Ok(()) };
        let mut plain = Vec::new();
        let checked = l.guard.open(now.unix, data, &mut plain);
        if let Some(c) = l.guard.take_partner_config() {
            self.compare_config(&c);
        }
        match checked {
            Ok(()) => {
                if !plain.is_empty() {
                    self.rel.handle_bytes(now, &plain);
                }
                Ok(())
            }
            Err(e) => {
                self.link_refused(e.to_string());
                let reject = l.guard.reject(now.unix, &e);
                let _ = l.w.write_all(&reject).await;
                let _ = l.w.flush().await;
                let _ = l.w.shutdown().await;
                *link = None;
                self.rel.handle_link_down(now);
                Err(e)
            }
        }
    }

    /// Compares the partner's configuration digest with ours; logs and keeps what differs.
    fn compare_config(&mut self, encoded: &[u8]) {
        match ConfigSections::decode(encoded) {
            Ok(partner) => {
                let differences: Vec<String> = diff(&self.sections, &partner).iter().map(|d| d.to_string()).collect();
                if differences.is_empty() {
                    tracing::info!("failover peer {}: configuration matches the partner's", self.name);
                } else {
                    tracing::warn!(
                        peer = %self.name,
                        "failover peer {}: configuration differs from the partner's: {}",
                        self.name,
                        differences.join("; ")
                    );
                }
                self.drift = Some(differences);
            }
            Err(e) => tracing::warn!("failover peer {}: partner's configuration digest unreadable: {e}", self.name),
        }
    }

    async fn refuse_duplicate(&mut self, stream: BoxStream) {
        // Answered through its own guard (and TLS, already done), so that the partner reads
        // a proper "already connected" rather than a link error.
        let (mut r, mut w) = tokio::io::split(stream);
        let mut guard = self.new_guard();
        let mut b = vec![0u8; 2048];
        let mut connect = Vec::new();
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), r.read(&mut b)).await
            && guard.open(self.now().unix, b.get(..n).unwrap_or(&[]), &mut connect).is_ok()
            && let Some(reply) = self.rel.duplicate_connection_reply(self.now(), &connect)
        {
            let mut out = Vec::new();
            if guard.seal(&reply, &mut out).is_ok() {
                let _ = w.write_all(&out).await;
                let _ = w.flush().await;
            }
        }
        let _ = w.shutdown().await;
    }

    /// Write what the relationship wants to send (nothing while it waits for a write).
    async fn flush(&mut self, link: &mut Option<Link>, reconnect_at: &mut tokio::time::Instant) {
        let mut out = Vec::new();
        while self.rel.poll_transmit(&mut out) {}
        if out.is_empty() {
            return;
        }
        let Some(l) = link.as_mut() else { return };
        let mut sealed = Vec::new();
        let sealed_ok = match l.guard.seal(&out, &mut sealed) {
            Ok(()) => true,
            Err(e) => {
                // A message we cannot sign must not silently vanish (the peer counts it as
                // sent): drop the link; the peer re-sends after reconnecting.
                tracing::error!("failover peer {}: {e}; closing the link", self.name);
                false
            }
        };
        // TLS buffers records until flushed.
        if !sealed_ok || l.w.write_all(&sealed).await.is_err() || l.w.flush().await.is_err() {
            *link = None;
            *reconnect_at = tokio::time::Instant::now() + RECONNECT;
            let now = self.now();
            self.rel.handle_link_down(now);
        }
    }

    /// Executes the relationship's actions: writes through the journal (reporting the
    /// outcome back), XDP steering, closing the link, and logs and metrics for its notes.
    async fn execute(&mut self, link: &mut Option<Link>) {
        while let Some(action) = self.rel.poll_action() {
            match action {
                Action::Persist { token, what } => {
                    let ok = match what {
                        Persist::State(p) => self.journal.state_wait(state_record(&self.name, &p, self.role())).await,
                        // The partner's bindings and pool-balancing moves: not replicated back.
                        // Awaited by the loop (`writes`), so that the next batch of the
                        // partner's bindings is read and applied meanwhile.
                        Persist::Leases(leases) => {
                            self.writes.push_back((token, self.journal.commit_submit(leases, false)));
                            continue;
                        }
                    };
                    let now = self.now();
                    self.rel.handle_durable(now, token, ok);
                }
                Action::Record(leases) => self.journal.record_acked(leases),
                Action::Publish(view) => {
                    if let Ok(mut x) = self.xdp.lock()
                        && let Some(prog) = x.as_mut()
                        && let Err(e) = prog.set_steering(&view.steering)
                    {
                        tracing::warn!("XDP steering update failed: {e}");
                    }
                }
                Action::Close(reason) => {
                    tracing::info!("failover peer {}: disconnected: {reason}", self.name);
                    let mut out = Vec::new();
                    while self.rel.poll_transmit(&mut out) {}
                    if let Some(l) = link.as_mut() {
                        let mut sealed = Vec::new();
                        let _ = l.guard.seal(&out, &mut sealed);
                        let _ = l.w.write_all(&sealed).await;
                        let _ = l.w.flush().await;
                        let _ = l.w.shutdown().await;
                    }
                    *link = None;
                }
                Action::Note(n) => self.note(n),
            }
        }
    }

    /// Waits for every lease write outstanding and reports it (before exiting).
    async fn settle_writes(&mut self, link: &mut Option<Link>) {
        while let Some((token, rx)) = self.writes.pop_front() {
            let ok = rx.await.unwrap_or(false);
            let now = self.now();
            self.rel.handle_durable(now, token, ok);
            self.execute(link).await;
        }
    }

    /// Logs (dhcpd's wording where dhcpd has a line) and metrics of what the relationship did.
    fn note(&mut self, n: Note) {
        let name = &self.name;
        match n {
            // The peer's own Log lines carry dhcpd's "I move from X to Y".
            Note::Peer(Event::Log(line)) => tracing::info!(peer = %name, "{line}"),
            Note::Peer(Event::Fatal(msg)) => tracing::error!("failover peer {name}: {msg}"),
            Note::Peer(Event::Connected) => tracing::info!("failover peer {name}: connected"),
            Note::Peer(Event::BindingRejected { ip, reason, message }) => {
                // Not replicated: a later change of this address starts its own clock.
                self.unacked_since.remove(&ip);
                tracing::warn!("failover peer {name}: partner rejected update of {ip}: {reason} {message}");
            }
            Note::Peer(_) => {}
            Note::AckFailed { ip, error } => tracing::debug!("failover peer {name}: ack of {ip}: {error}"),
            Note::Received { outcome: Err(why), .. } => {
                tracing::warn!("failover peer {name}: rejecting update: {why}")
            }
            Note::Received { .. } => {}
            Note::Acked { ip, .. } => {
                if let Some(since) = self.unacked_since.remove(&ip) {
                    self.replication_lag.observe(since.elapsed());
                }
            }
            Note::SendingUpdates(n) => tracing::info!("failover peer {name}: sending {n} lease updates"),
            Note::Balanced(moved) => {
                tracing::info!("failover peer {name}: pool balance: {} leases to the secondary", moved.len())
            }
            Note::PoolsChecked => self.log_pools(),
            Note::Held(ips) => tracing::warn!(
                "failover peer {name}: partner in recover (it may have lost its lease file): {} leases it may have \
                 renewed stay bound until tsfp + MCLT",
                ips.len()
            ),
            Note::StateWrite { ok: true, state } => {
                tracing::info!("failover peer {name}: state {state} written; resuming")
            }
            Note::StateWrite { ok: false, state } => tracing::error!(
                peer = %name,
                "failover peer {name}: could not write state {state} to the lease file; holding (no service, nothing sent to the partner) until it is written"
            ),
        }
    }

    fn role(&self) -> Role {
        self.rel.peer().config().role
    }

    /// Warn (once per episode) when the partner's clock differs by more than 5 s.
    /// Above 60 s the peer refuses CONNECT/CONNECTACK (dhcpd's rule): say so as an error,
    /// with the measured value, on whichever side sees it (both do: each measures the
    /// other's message).
    fn check_skew(&mut self) {
        let skew = self.rel.peer().skew_secs().unwrap_or(0);
        let level = if skew.abs() > MAX_TIME_SKEW {
            2
        } else if skew.abs() > SKEW_WARN_SECS {
            1
        } else {
            0
        };
        if level > self.skew_logged {
            if level == 2 {
                tracing::error!(
                    peer = %self.name,
                    "failover peer {}: partner clock differs by {skew} s, more than {MAX_TIME_SKEW} s: the connection is refused until the clocks are synchronised (NTP)",
                    self.name
                );
            } else {
                tracing::warn!(
                    "failover peer {}: partner clock differs by {skew} s (warning above {SKEW_WARN_SECS} s, refused above {MAX_TIME_SKEW} s): synchronise the clocks (NTP)",
                    self.name
                );
            }
        }
        // Log again only after the clocks came back within 5 s (no log line per message).
        if level == 0 || level > self.skew_logged {
            self.skew_logged = level;
        }
    }

    /// Pool lines as dhcpd logs them: "pool ... total N free N backup N lts N".
    fn log_pools(&self) {
        for (id, free, backup, total) in self.pool_counts() {
            let lts = match self.role() {
                Role::Primary => (free - backup) / 2,
                Role::Secondary => (backup - free) / 2,
            };
            tracing::info!("pool {id} {} total {total}  free {free}  backup {backup}  lts {lts}", self.name);
        }
    }

    fn pool_counts(&self) -> Vec<(u32, i64, i64, i64)> {
        self.engine
            .relationship_pools(&self.name)
            .into_iter()
            .map(|id| {
                let c = self.engine.store().pool_counts(id);
                (id, c.free as i64, c.backup as i64, c.total as i64)
            })
            .collect()
    }

    /// Sample the XDP program's count of late partner DISCOVERs; sustained lateness is
    /// evidence the partner is not serving (see `xdp::liveness`), which lets
    /// auto-partner-down act before its delay. (One program serves every relationship, so
    /// with several relationships the evidence is shared.)
    fn check_partner_liveness(&mut self) {
        let late = self
            .xdp
            .lock()
            .ok()
            .and_then(|x| x.as_ref().and_then(|p| p.counters().ok()))
            .map(|c| c.get(dhcp_common::maps::counter::PASS_PARTNER_LATE));
        let Some(late) = late else { return };
        let now = self.now();
        self.liveness.observe(now.mono_ms, late);
        if !self.liveness.partner_unresponsive() {
            self.liveness_warned = false;
            return;
        }
        let (recent, window_s) = (self.liveness.recent(), crate::xdp::liveness::WINDOW_MS / 1000);
        if self.rel.handle_partner_unresponsive(now) {
            tracing::warn!(
                "failover peer {}: {recent} partner-owned DISCOVERs over load balance max seconds in the last {window_s} s: partner not serving",
                self.name
            );
        } else if !self.liveness_warned {
            // No state change (e.g. still NORMAL: the partner talks failover but does not
            // answer its clients): say so once per episode.
            tracing::warn!(
                "failover peer {}: {recent} partner-owned DISCOVERs over load balance max seconds in the last {window_s} s: the partner is not answering its clients (state {})",
                self.name,
                self.rel.peer().state()
            );
            self.liveness_warned = true;
        }
    }

    fn status(&self) -> crate::failover::status::RelationshipStatus {
        use crate::failover::status::{LinkSecurity, Mode, PoolStatus, RelationshipStatus};
        let peer = self.rel.peer();
        let pools = self
            .pool_counts()
            .iter()
            .map(|&(pool, free, backup, total)| {
                let c = self.engine.store().pool_counts(pool);
                let in_use_percent = if total > 0 { (c.active as f64) * 100.0 / (total as f64) } else { 0.0 };
                PoolStatus { pool, total, free, backup, active: c.active, abandoned: c.abandoned, in_use_percent }
            })
            .collect();
        // A secondary learns hot standby from the primary's HBA (every bucket the primary's).
        let hot_standby = self.cfg.hot_standby_reserve_percent.is_some() || peer.hba() == Some([0xff; 32]);
        RelationshipStatus {
            name: self.name.clone(),
            role: peer.config().role,
            mode: if hot_standby { Mode::HotStandby } else { Mode::LoadBalance },
            my_state: peer.state(),
            my_state_code: peer.state(),
            partner_state_code: peer.partner_state(),
            partner_state: peer.partner_state(),
            my_stos: peer.stos(),
            partner_stos: peer.partner_stos(),
            last_change: self.rel.last_change(),
            mclt: peer.mclt(),
            clock_skew_secs: peer.skew_secs(),
            partner_late_discovers_recent: self.liveness.recent(),
            link_up: peer.link_up(),
            communicating: peer.communicating(),
            service: format!("{:?}", self.rel.view().service),
            state_written: self.rel.state_written(),
            unacked_updates: peer.unacked(),
            queued_updates: peer.queued(),
            acks_owed: peer.acks_owed(),
            replication_lag: self.replication_lag.snapshot(),
            pools,
            link_security: LinkSecurity {
                auth_key: self.key.as_ref().map(|k| k.name.clone()),
                tls: self.tls.is_some(),
                refused_connections: self.link_errors,
                last_error: self.last_link_error.clone(),
            },
            config_drift: self.drift.clone(),
            normal: peer.state() == State::NORMAL && peer.service() == ServiceLevel::Cooperating,
        }
    }
}

/// The oldest outstanding lease write, once complete: its token and whether it is durable.
async fn next_write(writes: &mut VecDeque<(Token, tokio::sync::oneshot::Receiver<bool>)>) -> (Token, bool) {
    let Some((_, rx)) = writes.front_mut() else { return std::future::pending().await };
    let ok = rx.await.unwrap_or(false);
    let token = writes.pop_front().map(|(t, _)| t).unwrap_or_default();
    (token, ok)
}

async fn accept(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn read(link: Option<&mut Link>, buf: &mut [u8]) -> std::io::Result<usize> {
    match link {
        Some(l) => l.r.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Connect from our failover address (dhcpd's partner checks the source address).
async fn connect(local: Ipv4Addr, remote: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((local, 0)))?;
    tokio::time::timeout(Duration::from_secs(3), sock.connect(SocketAddr::from((remote, port))))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout"))?
}
