//! The runtime: the only place with sockets, files, threads and clocks. It drives the sans-IO
//! engine: worker threads receive requests and run `Engine::handle`; replies that grant a
//! lease go through the journal thread, which writes and fsyncs a batch of lease records
//! (group commit) and only then sends the batch's replies.

pub mod control;
pub mod ddns;
pub mod failover;
pub mod hooks;
pub mod journal;
pub mod lease_names;
pub mod localtime;
pub mod metrics;
pub mod omapi;
pub mod peer_link;
pub mod ping;
pub mod reload;
pub mod resolve;
pub mod socket;

use crate::dhcp::{Destination, Engine, IfName, Reply, RequestMeta};
use crate::stats::Stats;
use crate::time::Now;
use crate::xdp::{self, AttachMode, XdpProgram};
use anyhow::{Context, Result, bail};
use socket::{CLIENT_PORT, DhcpSocket, SERVER_PORT};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What `xdhcpd -c FILE -l FILE IFACE...` asks for.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub config: PathBuf,
    pub lease_file: PathBuf,
    pub ifaces: Vec<String>,
    pub workers: usize,
    pub xdp_mode: AttachMode,
    pub port: u16,
    pub expiry_interval: Duration,
    /// Receive coalescing window (see the worker loop).
    pub coalesce: Duration,
    /// Unix socket of the control plane (`xdhcpd status`, `xdhcpd partner-down`).
    pub control_socket: PathBuf,
    /// Prometheus endpoint, off when `None`.
    pub metrics: Option<std::net::SocketAddr>,
    /// bpffs directory for the XDP pins (restart without a gap); `None`: no pinning.
    pub xdp_pin_dir: Option<PathBuf>,
}

/// The current Unix time. The one place the core's "now" comes from.
pub fn now() -> Now {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Now::at(secs.min(u64::from(u32::MAX - 1)) as u32)
}

/// An interface we serve.
#[derive(Clone, Debug)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    pub addr: Ipv4Addr,
    /// Served because an `interface` statement names it (not the command line): its
    /// requests are served from the shared network the statement ties it to.
    pub tied: bool,
}

/// Sends replies: shared by workers (non-durable replies) and the journal thread.
pub struct Sender {
    sock: Arc<DhcpSocket>,
    ifaces: HashMap<u32, Iface>,
    stats: Arc<Stats>,
    client_port: u16,
}

impl journal::ReplySink for Sender {
    fn send(&self, reply: &Reply, ifindex: u32) {
        Sender::send(self, reply, ifindex)
    }
}

impl Sender {
    pub fn send(&self, reply: &Reply, ifindex: u32) {
        let res = match reply.dest {
            Destination::Relay(giaddr) => self.sock.send(&reply.bytes, giaddr, SERVER_PORT, 0),
            Destination::Broadcast => self.sock.send(&reply.bytes, Ipv4Addr::BROADCAST, self.client_port, ifindex),
            Destination::Unicast(ip) => self.sock.send(&reply.bytes, ip, self.client_port, 0),
            Destination::UnicastHw { ip, chaddr } => {
                let arp_ok =
                    self.ifaces.get(&ifindex).map(|i| self.sock.set_arp(&i.name, ip, chaddr).is_ok()).unwrap_or(false);
                if arp_ok {
                    self.sock.send(&reply.bytes, ip, self.client_port, ifindex)
                } else {
                    self.sock.send(&reply.bytes, Ipv4Addr::BROADCAST, self.client_port, ifindex)
                }
            }
        };
        match res {
            Ok(()) => self.stats.sent(reply.msg_type),
            Err(e) => {
                self.stats.send_error();
                tracing::warn!("sending {:?}: {e:#}", reply.msg_type);
            }
        }
    }
}

/// Run the server until SIGTERM/SIGINT.
pub fn run(opts: RunOptions) -> Result<()> {
    let parsed = dhcp_config::parse_file(&opts.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &parsed.warnings {
        tracing::warn!("{w}");
    }
    let config = parsed.config;
    localtime::apply(&config);
    // The engine gets the addresses of host names; the model kept for reloads keeps
    // the names, so that each reload looks them up again.
    let mut resolved = config.clone();
    let names_failed = resolve::resolve_logged(&mut resolved) > 0;
    let engine = Arc::new(Engine::new(crate::conf::engine_config(&resolved)));

    // Read and folded in one pass: a million-lease file is never held as a list of records.
    let (journal_file, mut state, contents) = dhcp_journal::JournalFile::open_folded(&opts.lease_file)
        .with_context(|| format!("opening lease file {}", opts.lease_file.display()))?;
    for w in &contents.warnings {
        tracing::warn!("lease file {}: {w}", opts.lease_file.display());
    }
    if let Some(at) = contents.torn_at {
        tracing::warn!(
            "lease file {}: torn last record at byte {at} ignored (crash while writing?)",
            opts.lease_file.display()
        );
    }
    let records = std::mem::take(&mut state.leases).into_records();
    let restored = engine.restore_all(&records);
    drop(records);
    let states: std::collections::BTreeMap<String, dhcp_journal::FailoverStateRecord> =
        state.failover.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    tracing::info!(leases = engine.store().len(), restored, file = %opts.lease_file.display(), "lease file loaded");

    let ifaces = select_ifaces(&opts.ifaces, &config)?;
    let stats = Arc::new(Stats::default());
    let sock = Arc::new(DhcpSocket::bind(opts.port)?);
    sock.set_read_timeout(200)?;
    let sender = Arc::new(Sender {
        sock: sock.clone(),
        ifaces: ifaces.iter().map(|i| (i.index, i.clone())).collect(),
        stats: stats.clone(),
        client_port: if opts.port == SERVER_PORT { CLIENT_PORT } else { opts.port + 1 },
    });

    let xdp = attach_xdp(&opts, &ifaces);
    let xdp_modes = xdp.as_ref().map(|(_, m)| m.clone());
    let xdp_attached = xdp.as_ref().is_some_and(|(_, m)| !m.is_empty());
    let xdp: failover::Xdp = Arc::new(std::sync::Mutex::new(xdp.map(|(p, _)| p)));

    // Committed changes of failover pools go to their relationship's task.
    let relationships: Arc<std::sync::Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<failover::Input>>>> =
        Arc::new(std::sync::Mutex::new(HashMap::new()));
    // DNS updates: queued by the journal thread once a change is durable (so never
    // before its ACK, and never on a worker's path), run by a task of the async side.
    let (ddns_queue, ddns_rx) = ddns::queue(stats.clone());
    let ddns_on = engine.config().ddns_style.is_some();
    let replicator: journal::Replicator = {
        let (engine, rels, ddns_queue) = (engine.clone(), relationships.clone(), ddns_queue.clone());
        Arc::new(move |l: &crate::lease::Lease, ours: bool| {
            if ours
                && let Some(peer) = engine.relationship_of(l.pool)
                && let Ok(rels) = rels.lock()
                && let Some(tx) = rels.get(&peer)
            {
                let mut l = l.clone();
                l.ddns = None;
                let _ = tx.send(failover::Input::LeaseChanged(l));
            }
            if ddns_on {
                ddns_queue.lease_durable(l, &engine);
            }
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    // Hosts created through OMAPI in earlier runs (deleted ones keep their tombstone).
    let hosts: std::collections::BTreeMap<String, dhcp_journal::HostRecord> =
        state.hosts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for h in hosts.values().filter(|h| !h.deleted) {
        engine.add_dynamic_host(omapi::host_from_record(h, &engine.config().global));
    }
    let leases: Arc<dyn journal::LeaseSource> = engine.clone();
    let journal =
        journal::spawn(journal_file, leases, sender.clone(), stats.clone(), replicator, states.clone(), hosts)?;

    // ping-check: the thread and its raw socket start whenever they can (a reload may turn
    // ping-check on). Without CAP_NET_RAW they cannot: a configuration that pings then fails
    // to start, naming the reason; one that does not is only warned.
    let pinger = match ping::Pinger::spawn(engine.clone(), sender.clone(), journal.handle(), stats.clone()) {
        Ok(p) => Some(p),
        Err(e) if engine.config().pings() => return Err(e),
        Err(e) => {
            tracing::warn!("{e:#}: a configuration with ping-check on will offer without pinging");
            None
        }
    };
    // get-lease-hostnames: reverse DNS names, looked up off the request path.
    lease_names::spawn(engine.clone())?;
    let workers = opts.workers.max(1);
    let mut handles = Vec::new();
    for n in 0..workers {
        let (engine, sock, sender, stats, stop, journal) =
            (engine.clone(), sock.clone(), sender.clone(), stats.clone(), stop.clone(), journal.handle());
        let pinger = pinger.clone();
        let ddns_queue = ddns_queue.clone();
        let ifaces: HashMap<u32, Iface> = ifaces.iter().map(|i| (i.index, i.clone())).collect();
        let coalesce = opts.coalesce;
        handles.push(std::thread::Builder::new().name(format!("dhcp-worker-{n}")).spawn(move || {
            let mut buf = vec![0u8; 4096];
            // After a blocking receive, wait `coalesce` and then take everything queued without
            // blocking: one thread wakeup serves a burst instead of one packet. Costs up to
            // `coalesce` of latency; saves a context switch per packet under load.
            let mut draining = false;
            while !stop.load(Ordering::Relaxed) {
                let got = if draining { sock.try_recv(&mut buf) } else { sock.recv(&mut buf) };
                let rx = match got {
                    Ok(Some(rx)) => {
                        if !draining && !coalesce.is_zero() {
                            std::thread::sleep(coalesce);
                        }
                        draining = true;
                        rx
                    }
                    Ok(None) => {
                        draining = false;
                        continue;
                    }
                    Err(e) => {
                        draining = false;
                        tracing::warn!("recv: {e:#}");
                        continue;
                    }
                };
                // Only the interfaces we were asked to serve.
                let Some(iface) = ifaces.get(&rx.ifindex) else {
                    stats.ignored_iface();
                    continue;
                };
                let meta = RequestMeta {
                    iface_addr: iface.addr,
                    broadcast: rx.dst == Ipv4Addr::BROADCAST,
                    tied_iface: iface.tied.then(|| IfName::new(&iface.name)),
                };
                let Some(data) = buf.get(..rx.len) else { continue };
                let mut out = engine.handle(now(), &meta, data);
                stats.record(&out);
                // An OFFER that must wait for its ping-check goes to the ping thread.
                if let Some(probe) = out.probe.take() {
                    match (pinger.as_ref(), out.reply.take()) {
                        (Some(p), Some(reply)) => p.submit(probe, reply, rx.ifindex),
                        (None, reply) => {
                            tracing::warn!(ip = %probe.ip, "ping-check: no ICMP socket, offered without an echo");
                            out.reply = reply;
                        }
                        (Some(_), None) => {}
                    }
                }
                match (out.reply, out.durable.is_empty()) {
                    (Some(reply), true) => sender.send(&reply, rx.ifindex),
                    (reply, false) => journal.commit(out.durable, reply.map(|r| (r, rx.ifindex))),
                    (None, true) => {}
                }
                // A fixed address's DNS updates: nothing of them is written, so there is
                // no durability to wait for; queued without blocking, after the ACK.
                if let Some(job) = out.ddns {
                    ddns_queue.push(job);
                }
            }
        })?);
    }

    // The async side: failover relationships, control socket, signals, expiry sweep.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        // Handlers first: "ready" (below) tells supervisors and tests that a SIGTERM from now
        // on is a clean stop (SHUTDOWN to the partner, lease file flushed, XDP left pinned).
        // Until tokio installs its handler a signal has its default action and kills the
        // process outright, so installing them after printing "ready" left a window in which
        // a prompt SIGTERM killed the server instead of stopping it.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        // Programs of `execute` statements, run off the request path.
        tokio::spawn(hooks::serve(engine.hooks()));
        if ddns_on {
            let zones = crate::ddns::update::Zones::from_config(&resolved)?;
            let local = ddns_local_address(&resolved);
            ddns::start(ddns_rx, ddns_queue.clone(), zones, local, engine.clone(), journal.handle());
            tracing::info!(style = ?engine.config().ddns_style, "dynamic DNS updates on");
            // Leases that ended with their records still in DNS (a removal not done before
            // the last stop): the lease file says what to remove.
            let ended: Vec<crate::lease::Lease> = engine
                .store()
                .snapshot()
                .into_iter()
                .filter(|l| !matches!(l.state, crate::lease::BindingState::Active | crate::lease::BindingState::Bootp))
                .filter(|l| l.vars.as_deref().is_some_and(crate::ddns::plan::has_records))
                .collect();
            for l in &ended {
                ddns_queue.lease_durable(l, &engine);
            }
            if !ended.is_empty() {
                tracing::info!(n = ended.len(), "removal of the DNS records of leases that ended before the start queued");
            }
        }
        for peer in &config.failover_peers {
            let persisted = states.get(&peer.name).map(failover::to_persisted);
            let tx = failover::spawn(
                &config,
                peer.clone(),
                persisted,
                engine.clone(),
                journal.handle(),
                xdp.clone(),
                xdp_attached,
            )?;
            if let Ok(mut rels) = relationships.lock() {
                rels.insert(peer.name.clone(), tx);
            }
        }
        let omapi_shutdown = Arc::new(tokio::sync::Notify::new());
        omapi::spawn(&config, engine.clone(), relationships.clone(), omapi_shutdown.clone(), journal.handle());
        let reloader = Arc::new(reload::Reloader::new(opts.config.clone(), config.clone(), engine.clone()));
        let control = control::Control::bind(
            &opts.control_socket,
            relationships.clone(),
            stats.clone(),
            engine.clone(),
            xdp.clone(),
            reloader.clone(),
        )
        .await;
        if let Some(addr) = opts.metrics {
            metrics::spawn(addr, relationships.clone(), stats.clone(), engine.clone(), xdp.clone());
        }
        println!(
            "{}",
            serde_json::json!({"event": "ready", "workers": workers, "ifaces": ifaces.iter().map(|i| &i.name).collect::<Vec<_>>(), "xdp": xdp_modes, "failover": config.failover_peers.iter().map(|p| &p.name).collect::<Vec<_>>()})
        );
        tracing::info!(workers, "serving DHCP");
        let mut tick = tokio::time::interval(opts.expiry_interval);
        // Host names in the configuration are looked up again as dhcpd's cache would:
        // an hour after an answer, a minute after a failure (never with no names).
        let first_lookup = if names_failed { 60 } else { 3600 };
        let mut names_due = tokio::time::Instant::now() + Duration::from_secs(first_lookup);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(names_due) => {
                    let reloader = reloader.clone();
                    // getaddrinfo blocks: off the async thread.
                    let next = tokio::task::spawn_blocking(move || reloader.refresh_names_logged()).await;
                    names_due = tokio::time::Instant::now() + next.unwrap_or(Duration::from_secs(60));
                }
                _ = tick.tick() => {
                    let expired = engine.expire(now(), 10_000);
                    if !expired.is_empty() {
                        tracing::debug!(n = expired.len(), "leases expired");
                        journal.handle().commit(expired, None);
                    }
                }
                conn = control.accept() => control.serve(conn),
                _ = hup.recv() => {
                    let reloader = reloader.clone();
                    // Parsing and adding ranges is file IO and CPU: off the async thread.
                    let _ = tokio::task::spawn_blocking(move || reloader.reload_logged("SIGHUP")).await;
                }
                _ = int.recv() => break,
                _ = term.recv() => break,
                _ = omapi_shutdown.notified() => break,
            }
        }
        tracing::info!("shutting down");
        // Tell each partner (SHUTDOWN) and persist the exit state, as dhcpd does.
        let senders: Vec<_> = relationships.lock().map(|r| r.values().cloned().collect()).unwrap_or_default();
        for tx in senders {
            let (done, wait) = tokio::sync::oneshot::channel();
            if tx.send(failover::Input::Exit(done)).is_ok() {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(3), wait).await;
            }
        }
        control.remove();
        anyhow::Ok(())
    })?;
    // Ends every task (OMAPI sessions, relationships) and the handles they hold.
    drop(rt);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    journal.shutdown();
    if let Ok(mut x) = xdp.lock()
        && let Some(prog) = x.as_mut()
        && let Err(e) = prog.leave_pinned()
    {
        tracing::warn!("XDP at exit: {e}");
    }
    println!("{}", serde_json::json!({"event": "stopped", "stats": stats.snapshot()}));
    Ok(())
}

/// `ddns-local-address4` of the global scope (the source address of DNS updates).
fn ddns_local_address(cfg: &dhcp_config::Config) -> Option<Ipv4Addr> {
    match &cfg.global.ddns.local_address4 {
        Some(dhcp_config::HostAddr::Ip(ip)) => Some(*ip),
        _ => None,
    }
}

fn select_ifaces(names: &[String], config: &dhcp_config::Config) -> Result<Vec<Iface>> {
    let all = socket::interfaces()?;
    let iface = |n: &str, tied: bool| {
        all.iter().find(|(name, ..)| name == n).map(|(name, index, addr, _)| Iface {
            name: name.clone(),
            index: *index,
            addr: *addr,
            tied,
        })
    };
    // As dhcpd: with no interface on the command line, every broadcast interface, unless
    // `interface` statements name some (then those only).
    let mut chosen: Vec<Iface> = if names.is_empty() && config.interfaces.is_empty() {
        all.iter()
            .filter(|(_, _, _, bcast)| *bcast)
            .map(|(name, index, addr, _)| Iface { name: name.clone(), index: *index, addr: *addr, tied: false })
            .collect()
    } else {
        let mut v = Vec::new();
        for n in names {
            match iface(n, false) {
                Some(i) => v.push(i),
                None => bail!("interface {n} not found or has no IPv4 address"),
            }
        }
        v
    };
    // An interface named by an `interface` statement (and not on the command line, which
    // makes dhcpd ignore the statement) is served too, tied to its shared network.
    for b in config.interfaces.iter().filter(|b| !names.contains(&b.name)) {
        let Some(i) = iface(&b.name, true) else {
            bail!(
                "interface {} (named by an `interface` statement in dhcpd.conf) not found or has no IPv4 address",
                b.name
            );
        };
        // dhcpd refuses to start when the interface's address is on another network.
        let on = config.shared_networks.iter().position(|sn| {
            sn.subnets.iter().any(|s| {
                let mask = if s.prefix_len == 0 { 0 } else { u32::MAX << (32 - u32::from(s.prefix_len.min(32))) };
                u32::from(i.addr) & mask == u32::from(s.network) & mask
            })
        });
        if on.is_some_and(|n| n != b.shared_network) {
            bail!("interface {} matches multiple shared networks (its address {} is on another one)", b.name, i.addr);
        }
        chosen.push(i);
    }
    if chosen.is_empty() {
        bail!("no broadcast-capable IPv4 interface to serve; name one on the command line");
    }
    Ok(chosen)
}

/// Attach XDP as asked (pinned, adopting what an earlier run left, when a pin directory is
/// given); on failure fall back to the userspace path and say so.
fn attach_xdp(opts: &RunOptions, ifaces: &[Iface]) -> Option<(XdpProgram, Vec<String>)> {
    if opts.xdp_mode == AttachMode::Off || !xdp::available() {
        if opts.xdp_mode == AttachMode::Off {
            tracing::info!("XDP off (--xdp-mode off): userspace path only");
        } else {
            tracing::warn!("XDP unavailable: this binary was built without the eBPF program; userspace path only");
        }
        // Pins can only exist on a mounted bpffs: look, but mount nothing.
        unpin_stale(opts.xdp_pin_dir.as_deref().filter(|root| xdp::pin::is_bpffs(root)), ifaces);
        return None;
    }
    let pin_root = opts.xdp_pin_dir.as_deref().and_then(|root| match xdp::pin::ensure_bpffs(root) {
        Ok(()) => Some(root),
        Err(e) => {
            tracing::warn!("XDP pinning unavailable ({e}): the program will be detached at exit");
            None
        }
    });
    let mut prog = match XdpProgram::load(0) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("XDP unavailable ({e}); userspace path only");
            unpin_stale(pin_root, ifaces);
            return None;
        }
    };
    let mut modes = Vec::new();
    for i in ifaces {
        let attached = match pin_root {
            Some(root) => prog.attach_pinned(&i.name, opts.xdp_mode, root),
            None => prog.attach(&i.name, opts.xdp_mode).map(|m| (m, xdp::Origin::Attached)),
        };
        match attached {
            Ok((m, origin)) => {
                tracing::info!(iface = %i.name, mode = %m, %origin, "XDP attached");
                modes.push(format!("{}:{m}", i.name));
            }
            Err(e) => {
                tracing::warn!(iface = %i.name, "XDP not attached ({e}); userspace path on this interface");
                unpin_stale(pin_root, std::slice::from_ref(i));
            }
        }
    }
    Some((prog, modes))
}

/// Without XDP on an interface, a program an earlier run left pinned there would keep
/// applying stale steering behind the userspace path's back: remove it.
fn unpin_stale(pin_root: Option<&std::path::Path>, ifaces: &[Iface]) {
    let Some(root) = pin_root else { return };
    let names: Vec<String> = ifaces.iter().map(|i| i.name.clone()).collect();
    match xdp::pin::detach_pinned(root, &names) {
        Ok(removed) if !removed.is_empty() => {
            tracing::warn!(?removed, "removed the XDP program an earlier run left pinned (no XDP in this run)")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("removing stale XDP pins: {e}"),
    }
}
