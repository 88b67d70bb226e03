//! Live migration of an ISC dhcpd failover pair to xdhcpd, one server at a time, while real
//! clients keep renewing: the scenario behind `cargo xtask lab --migrate` and
//! `tests/migrate.rs`.
//!
//! Topology: [`PairLab`]'s two server namespaces and its bridge, plus one namespace per
//! client (a veth into the bridge), so that each client's address lives alone in its
//! namespace and the servers' unicast replies to renewals reach exactly that client. Each
//! client is a long-running `udhcpc` whose script configures the address and appends every
//! event (`bound`, `renew`, `deconfig`, `nak`, `leasefail`) with a timestamp, the address and
//! the server identifier to a file: a client that lost its address or got a NAK shows there.
//!
//! The replacement xdhcpd reads the very files the dhcpd it replaces used: the same
//! dhcpd.conf and the same dhcpd.leases.
//!
//! Everything is a Drop guard: the clients' namespaces (and their udhcpc), the pair's
//! namespaces, servers and directory.

use crate::netns::{self, Netns};
pub use crate::pair::ADDR;
use crate::pair::{PairLab, active_bindings, pair_config};
use crate::process::Proc;
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Lease time (default and max): short, so that clients renew every ~15 s during the run.
pub const LEASE_SECS: u32 = 30;
/// The primary's MCLT. It caps a first lease, and every lease the secondary grants, so it is
/// no shorter than the lease time: busybox udhcpc treats a lease under 30 s as 30 s and
/// renews at 15 s, after a 10 s lease has already ended on the servers.
pub const MCLT: u32 = 30;
pub const SPLIT: u16 = 128;
pub const LB_MAX_SECS: u32 = 3;
/// Number of clients.
pub const CLIENTS: u8 = 6;
/// xdhcpd's flags: generic XDP where the binary has its program, no pin left behind.
pub const XDHCPD_ARGS: &[&str] = &["--xdp-mode", "skb", "--xdp-no-pin"];
pub const ROLE: [&str; 2] = ["primary", "secondary"];

/// What runs as a server of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Stopped,
    Dhcpd,
    Xdhcpd,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Stopped => "stopped",
            Server::Dhcpd => "ISC dhcpd",
            Server::Xdhcpd => "xdhcpd",
        }
    }
}

/// An MCLT under busybox's 30 s floor: the secondary's clients renew after their lease ended
/// on the servers (late renewals, [`Migration::with_mclt`]).
pub const SHORT_MCLT: u32 = 10;

/// The pair's dhcpd.conf for server `i`: [`pair_config`] with [`LEASE_SECS`] leases.
pub fn migrate_config(i: usize, mclt: u32) -> Result<String> {
    let base = pair_config(i, mclt, SPLIT, LB_MAX_SECS, 0);
    let times = "default-lease-time 600;\nmax-lease-time 7200;";
    if !base.contains(times) {
        bail!("pair_config no longer sets the lease times this scenario replaces:\n{base}");
    }
    Ok(base.replace(times, &format!("default-lease-time {LEASE_SECS};\nmax-lease-time {LEASE_SECS};")))
}

/// Seconds since the Unix epoch, as the clients' event script writes them (`date +%s.%N`).
pub fn now_unix() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// One line of a client's event file.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Unix time, seconds.
    pub at: f64,
    /// udhcpc's script argument: deconfig, bound, renew, nak, leasefail.
    pub kind: String,
    pub ip: Option<String>,
    /// The server identifier of the answer (bound, renew).
    pub server: Option<String>,
    pub lease_secs: Option<u64>,
}

/// Parse an event file (lines `TIME KIND IP SERVER LEASE`, `-` for none). Lines that do
/// not parse (a torn last line) are skipped.
pub fn parse_events(text: &str) -> Vec<Event> {
    let opt = |s: &str| if s == "-" || s.is_empty() { None } else { Some(s.to_string()) };
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() != 5 {
                return None;
            }
            Some(Event {
                at: w[0].parse().ok()?,
                kind: w[1].to_string(),
                ip: opt(w[2]),
                server: opt(w[3]),
                lease_secs: w[4].parse().ok(),
            })
        })
        .collect()
}

/// What a client's events say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientView {
    /// The address bound first, and when.
    pub bound: Option<(String, f64)>,
    /// The server that answered the first binding.
    pub bound_by: Option<String>,
    /// Renewals (time, server) of the bound address.
    pub renewals: Vec<(f64, String)>,
    /// Every event after the first binding that is not a renewal of the same address: a NAK,
    /// a lost address (deconfig), a failure, a binding to another address.
    pub problems: Vec<String>,
}

/// Judge a client's events: the start-up `deconfig` (udhcpc's first event) is expected;
/// after the first `bound`, only `renew` of the same address is.
pub fn view(events: &[Event]) -> ClientView {
    let mut v = ClientView::default();
    for e in events {
        let ip = e.ip.clone().unwrap_or_default();
        let server = e.server.clone().unwrap_or_else(|| "?".into());
        match (&v.bound, e.kind.as_str()) {
            (None, "bound") => {
                v.bound = Some((ip, e.at));
                v.bound_by = Some(server);
            }
            (None, _) => {}
            (Some((held, _)), "renew") if *held == ip => v.renewals.push((e.at, server)),
            (Some((held, _)), kind) => {
                v.problems.push(format!("{kind} {} (from {server}) at {:.1} while holding {held}", ip, e.at))
            }
        }
    }
    v
}

/// A client: its own namespace, a veth into the pair's bridge, a long-running udhcpc.
pub struct Client {
    pub name: String,
    pub mac: String,
    pub ifname: String,
    events: PathBuf,
    proc: Option<Proc>,
    // Last: the namespace goes after udhcpc is killed.
    pub ns: Netns,
}

impl Client {
    pub fn events(&self) -> Vec<Event> {
        parse_events(&std::fs::read_to_string(&self.events).unwrap_or_default())
    }

    pub fn view(&self) -> ClientView {
        view(&self.events())
    }

    /// udhcpc's own output (stdout and stderr), for failure reports.
    pub fn output(&self) -> String {
        self.proc.as_ref().map(|p| [p.stdout_lines(), p.stderr_lines()].concat().join("\n")).unwrap_or_default()
    }
}

/// Client `n`'s MAC address.
pub fn client_mac(n: u8) -> String {
    format!("52:54:00:00:50:{n:02x}")
}

/// A running migration scenario. Clients are declared first, so they go first on drop.
pub struct Migration {
    pub clients: Vec<Client>,
    pub pair: PairLab,
    pub kind: [Server; 2],
    /// The log of each dhcpd that was replaced, up to its exit.
    pub dhcpd_logs: [Vec<String>; 2],
    /// The flags xdhcpd starts with (the configuration, lease file, control socket and
    /// interface come first and last): [`XDHCPD_ARGS`] unless changed.
    pub xdhcpd_args: Vec<String>,
    /// Called at every poll of every wait; an error ends the wait (the lab's Ctrl-C).
    pub interrupt: fn() -> Result<()>,
}

/// How long one replacement took (dhcpd by xdhcpd, or back).
#[derive(Clone, Debug)]
pub struct Replacement {
    /// SIGTERM to the stopped server's exit.
    pub stop: Duration,
    /// The new server's start to its being ready (xdhcpd's "ready" line; dhcpd: spawned).
    pub ready: Duration,
    /// Then to NORMAL/NORMAL on both sides.
    pub normal: Duration,
    /// The stopped server's last log lines (its failover state moves at exit).
    pub exit_log: Vec<String>,
}

impl Replacement {
    pub fn total(&self) -> Duration {
        self.stop + self.ready + self.normal
    }
}

/// (my state, partner state) from a dhcpd log: the last "I move from X to Y" and the last
/// "peer moves from X to Y" of relationship `lab`.
pub fn dhcpd_states(log: &[String]) -> (Option<String>, Option<String>) {
    let last = |marker: &str| {
        log.iter().rev().find_map(|l| {
            let i = l.find(marker)?;
            let rest = &l[i + marker.len()..];
            rest.split(" to ").nth(1).map(|s| s.trim().to_string())
        })
    };
    (last("failover peer lab: I move from "), last("failover peer lab: peer moves from "))
}

impl Migration {
    /// The namespaces, the bridge and the clients' namespaces; nothing started yet.
    pub fn new() -> Result<Migration> {
        Migration::with_mclt(MCLT)
    }

    /// [`Migration::new`] with another MCLT in the primary's configuration.
    pub fn with_mclt(mclt: u32) -> Result<Migration> {
        let pair = PairLab::new([migrate_config(0, mclt)?, migrate_config(1, mclt)?])?;
        // Each client's address is alone in its namespace: no ARP answered for a neighbour's
        // address, no reply delivered to the wrong client.
        let mut clients = Vec::new();
        for n in 1..=CLIENTS {
            let ns = Netns::new("mc")?;
            let ifname = netns::unique("mv");
            let port = netns::unique("mb");
            netns::veth(&ns, &ifname, None, &pair.cli, &port, None)?;
            pair.cli.exec(&["ip", "link", "set", &port, "master", "br0"])?;
            let mac = client_mac(n);
            ns.exec(&["ip", "link", "set", &ifname, "address", &mac])?;
            let events = pair.dir.join(format!("client{n}.events"));
            clients.push(Client { name: format!("client{n}"), mac, ifname, events, proc: None, ns });
        }
        Ok(Migration {
            clients,
            pair,
            kind: [Server::Stopped; 2],
            dhcpd_logs: [Vec::new(), Vec::new()],
            xdhcpd_args: XDHCPD_ARGS.iter().map(|a| a.to_string()).collect(),
            interrupt: || Ok(()),
        })
    }

    /// Start both dhcpd (secondary first, empty lease files) and wait until both say NORMAL.
    pub fn start_dhcpd_pair(&mut self, within: Duration) -> Result<Duration> {
        self.pair.start_dhcpd(1)?;
        self.kind[1] = Server::Dhcpd;
        self.pair.start_dhcpd(0)?;
        self.kind[0] = Server::Dhcpd;
        self.wait_normal(within)
    }

    /// Server `i`'s (my state, partner state): from its log for dhcpd, its status for xdhcpd.
    pub fn states(&self, i: usize) -> (Option<String>, Option<String>) {
        match self.kind[i] {
            Server::Stopped => (None, None),
            Server::Dhcpd => dhcpd_states(&self.pair.server_log(i)),
            Server::Xdhcpd => match self.pair.states(i) {
                Ok((m, p)) => (Some(m), Some(p)),
                Err(_) => (None, None),
            },
        }
    }

    /// Both servers NORMAL, each seeing the other NORMAL.
    pub fn both_normal(&self) -> bool {
        (0..2).all(|i| {
            let (m, p) = self.states(i);
            m.as_deref() == Some("normal") && p.as_deref() == Some("normal")
        })
    }

    pub fn wait_normal(&mut self, within: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if self.both_normal() {
                return Ok(start.elapsed());
            }
            for (i, role) in ROLE.iter().enumerate() {
                if let Some(status) = self.pair.servers[i].as_mut().and_then(Proc::exited) {
                    bail!("the {role} ({}) exited ({status}):\n{}", self.kind[i].name(), self.log_tail(i, 30));
                }
            }
            if start.elapsed() > within {
                bail!("not NORMAL/NORMAL within {within:?}: {}", self.describe_states());
            }
            (self.interrupt)()?;
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// "primary (ISC dhcpd) normal/normal, secondary (xdhcpd) ...".
    pub fn describe_states(&self) -> String {
        (0..2)
            .map(|i| {
                let (m, p) = self.states(i);
                format!(
                    "{} ({}) {}/{}",
                    ROLE[i],
                    self.kind[i].name(),
                    m.as_deref().unwrap_or("?"),
                    p.as_deref().unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The last `n` log lines of server `i` (dhcpd's log; xdhcpd's stderr).
    pub fn log_tail(&self, i: usize, n: usize) -> String {
        let log = self.pair.server_log(i);
        log[log.len().saturating_sub(n)..].join("\n")
    }

    /// For a failure report: the replaced dhcpd's last log lines, each server's, and every
    /// client's events.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for (i, log) in self.dhcpd_logs.iter().enumerate().filter(|(_, l)| !l.is_empty()) {
            let tail = &log[log.len().saturating_sub(40)..];
            out.push_str(&format!("--- the replaced dhcpd {}, last 40 lines:\n{}\n", ROLE[i], tail.join("\n")));
        }
        for (i, role) in ROLE.iter().enumerate() {
            out.push_str(&format!(
                "--- {role} ({}) log, last 80 lines:\n{}\n",
                self.kind[i].name(),
                self.log_tail(i, 80)
            ));
        }
        for c in &self.clients {
            out.push_str(&format!("--- {} ({}) events:\n", c.name, c.mac));
            for e in c.events() {
                out.push_str(&format!(
                    "  {:.3} {} {} {} {}\n",
                    e.at,
                    e.kind,
                    e.ip.as_deref().unwrap_or("-"),
                    e.server.as_deref().unwrap_or("-"),
                    e.lease_secs.map_or("-".to_string(), |s| s.to_string())
                ));
            }
        }
        out
    }

    /// Start every client's udhcpc (foreground, renewing for as long as it runs) and wait
    /// until each has bound an address. Returns (client, address, server) per client.
    pub fn start_clients(&mut self, within: Duration) -> Result<Vec<(String, String, String)>> {
        for c in &mut self.clients {
            let script = self.pair.dir.join(format!("{}.sh", c.name));
            let events = c.events.to_str().context("path")?;
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\n\
                     case \"$1\" in\n\
                     \x20 bound) ip addr flush dev \"$interface\"; ip addr add \"$ip/$subnet\" dev \"$interface\" ;;\n\
                     \x20 renew) ip addr replace \"$ip/$subnet\" dev \"$interface\" ;;\n\
                     \x20 deconfig) ip addr flush dev \"$interface\" ;;\n\
                     esac\n\
                     echo \"$(date +%s.%N) $1 ${{ip:--}} ${{serverid:--}} ${{lease:--}}\" >> {events}\n\
                     exit 0\n"
                ),
            )
            .with_context(|| format!("writing {}", script.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", script.display()))?;
            let mut cmd = c.ns.command("udhcpc");
            // -t 5 -T 2: five DISCOVERs 2 s apart, then -A 2 s before trying again.
            cmd.args(["-f", "-t", "5", "-T", "2", "-A", "2", "-i", &c.ifname, "-s"]).arg(&script);
            c.proc = Some(Proc::spawn(&format!("udhcpc {}", c.name), cmd)?);
        }
        let start = Instant::now();
        loop {
            let views: Vec<ClientView> = self.clients.iter().map(Client::view).collect();
            if views.iter().all(|v| v.bound.is_some()) {
                return Ok(self
                    .clients
                    .iter()
                    .zip(views)
                    .map(|(c, v)| {
                        let ip = v.bound.map(|b| b.0).unwrap_or_default();
                        (c.name.clone(), ip, v.bound_by.unwrap_or_default())
                    })
                    .collect());
            }
            if start.elapsed() > within {
                let missing: Vec<String> = self
                    .clients
                    .iter()
                    .filter(|c| c.view().bound.is_none())
                    .map(|c| format!("{} ({}): {}", c.name, c.mac, c.output()))
                    .collect();
                bail!("clients without a lease after {within:?}:\n{}", missing.join("\n"));
            }
            (self.interrupt)()?;
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every client's problems (NAK, lost address, ...), and NAKs in the dhcpd logs.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .clients
            .iter()
            .flat_map(|c| c.view().problems.into_iter().map(move |p| format!("{} ({}): {p}", c.name, c.mac)))
            .collect();
        for (i, role) in ROLE.iter().enumerate() {
            if self.kind[i] == Server::Dhcpd {
                out.extend(
                    self.pair
                        .server_log(i)
                        .into_iter()
                        .filter(|l| l.contains("DHCPNAK"))
                        .map(|l| format!("{role}: {l}")),
                );
            }
        }
        out
    }

    /// xdhcpd's warnings and errors (its log, both servers), but for those about XDP being
    /// unavailable (a binary built without the eBPF program, a veth without generic XDP):
    /// taking over dhcpd's files must not make it complain.
    pub fn xdhcpd_complaints(&self) -> Vec<String> {
        (0..2)
            .filter(|&i| self.kind[i] == Server::Xdhcpd)
            .flat_map(|i| {
                self.pair
                    .server_log(i)
                    .into_iter()
                    .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && !l.contains("XDP"))
                    .map(move |l| format!("{}: {l}", ROLE[i]))
            })
            .collect()
    }

    /// Fail with every problem seen so far, if any.
    pub fn check_no_problems(&self) -> Result<()> {
        let p = self.problems();
        if !p.is_empty() {
            bail!("{} client problem(s):\n{}", p.len(), p.join("\n"));
        }
        Ok(())
    }

    /// Wait until every client renewed its address after `since` (Unix time), failing at
    /// once on any problem. Returns the servers that answered those renewals.
    pub fn wait_renewals(&self, since: f64, within: Duration) -> Result<BTreeSet<String>> {
        let start = Instant::now();
        loop {
            self.check_no_problems()?;
            let views: Vec<ClientView> = self.clients.iter().map(Client::view).collect();
            if views.iter().all(|v| v.renewals.iter().any(|(t, _)| *t > since)) {
                return Ok(views
                    .iter()
                    .flat_map(|v| v.renewals.iter().filter(|(t, _)| *t > since).map(|(_, s)| s.clone()))
                    .collect());
            }
            if start.elapsed() > within {
                let late: Vec<&str> = self
                    .clients
                    .iter()
                    .zip(&views)
                    .filter(|(_, v)| !v.renewals.iter().any(|(t, _)| *t > since))
                    .map(|(c, _)| c.name.as_str())
                    .collect();
                bail!("clients that did not renew within {within:?}: {late:?}");
            }
            (self.interrupt)()?;
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Each client's address and MAC is an active lease in the lease file of every server in
    /// `files`.
    pub fn check_lease_files(&self, files: &[usize]) -> Result<()> {
        for &i in files {
            let active = active_bindings(&self.pair.leases(i));
            for c in &self.clients {
                let ip = c.view().bound.map(|b| b.0).with_context(|| format!("{} never bound", c.name))?;
                match active.get(&ip) {
                    Some(hw) if hw.eq_ignore_ascii_case(&c.mac) => {}
                    other => bail!(
                        "the {}'s lease file ({}, {}) has {ip} {} instead of active for {} ({})",
                        ROLE[i],
                        self.kind[i].name(),
                        self.pair.lease_file(i).display(),
                        other.map_or("not active".to_string(), |h| format!("active for {h}")),
                        c.mac,
                        c.name
                    ),
                }
            }
        }
        Ok(())
    }

    /// Wait until [`Migration::check_lease_files`] holds (a lease reaches the partner's file
    /// by BNDUPD), at most `within`.
    pub fn wait_lease_files(&self, files: &[usize], within: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            match self.check_lease_files(files) {
                Ok(()) => return Ok(start.elapsed()),
                Err(e) if start.elapsed() > within => return Err(e.context(format!("after {within:?}"))),
                Err(_) => {
                    (self.interrupt)()?;
                    std::thread::sleep(Duration::from_millis(200))
                }
            }
        }
    }

    /// The way back stays open: ISC dhcpd accepts the lease file xdhcpd server `i` writes
    /// (`dhcpd -T`, which parses the configuration and the lease file and exits, run on a copy
    /// of the file taken now, with the dhcpd.conf dhcpd read).
    /// Returns how many leases dhcpd kept from it.
    pub fn dhcpd_reads_lease_file(&self, i: usize) -> Result<usize> {
        let copy = self.pair.dir.join(format!("s{i}.leases.check"));
        std::fs::copy(self.pair.lease_file(i), &copy).context("copying the lease file")?;
        let out = std::process::Command::new("dhcpd")
            .arg("-T")
            .arg("-4")
            .arg("-cf")
            .arg(self.pair.dhcpd_config(i))
            .arg("-lf")
            .arg(&copy)
            .output()
            .context("running dhcpd -T")?;
        let _ = std::fs::remove_file(&copy);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        // dhcpd -T exits 0 even on a corrupt file: judge by what it says. A parse error is
        // "FILE line N: ...", then "Corrupt lease file - possible data loss!"; the end is
        // "Wrote N leases to leases file." with every lease it kept.
        let complaint = text.lines().find(|l| {
            l.contains("orrupt") || l.contains(".check line ") || l.contains("Unexpected") || l.contains("expecting")
        });
        let wrote = crate::lab::parse_after(&text, "Wrote ").and_then(|n| n.parse::<usize>().ok());
        match (out.status.success(), complaint, wrote) {
            (true, None, Some(n)) if n >= self.clients.len() => Ok(n),
            _ => bail!("dhcpd -T does not accept the {}'s lease file ({}):\n{text}", ROLE[i], out.status),
        }
    }

    /// The way back: stop xdhcpd server `i` (SIGTERM) and start ISC dhcpd in its place on
    /// the same dhcpd.conf and the lease file xdhcpd wrote; wait for NORMAL/NORMAL.
    pub fn roll_back(&mut self, i: usize, normal_within: Duration) -> Result<Replacement> {
        if self.kind[i] != Server::Xdhcpd {
            bail!("the {} is {}, not xdhcpd", ROLE[i], self.kind[i].name());
        }
        let t = Instant::now();
        let (_, log) = self.pair.stop(i, Duration::from_secs(20))?;
        self.kind[i] = Server::Stopped;
        let stop = t.elapsed();
        let exit: Vec<String> = log[log.len().saturating_sub(12)..].to_vec();
        let t = Instant::now();
        self.pair.start_dhcpd_with_leases(i)?;
        self.kind[i] = Server::Dhcpd;
        let ready = t.elapsed();
        let normal = self.wait_normal(normal_within)?;
        Ok(Replacement { stop, ready, normal, exit_log: exit })
    }

    /// Replace dhcpd server `i` by xdhcpd: SIGTERM dhcpd (as `systemctl stop`), start xdhcpd
    /// on the same dhcpd.conf and dhcpd.leases, wait for NORMAL/NORMAL.
    pub fn replace(&mut self, i: usize, normal_within: Duration) -> Result<Replacement> {
        if self.kind[i] != Server::Dhcpd {
            bail!("the {} is {}, not ISC dhcpd", ROLE[i], self.kind[i].name());
        }
        let t = Instant::now();
        let (status, log) = self.pair.stop(i, Duration::from_secs(20))?;
        self.kind[i] = Server::Stopped;
        let stop = t.elapsed();
        if !status.success() && status.code().is_some() {
            bail!("dhcpd exited with {status}:\n{}", log[log.len().saturating_sub(20)..].join("\n"));
        }
        let exit_log: Vec<String> = log[log.len().saturating_sub(12)..].to_vec();
        self.dhcpd_logs[i] = log;
        let t = Instant::now();
        let conf = self.pair.dhcpd_config(i);
        let args: Vec<&str> = self.xdhcpd_args.iter().map(String::as_str).collect();
        self.pair.start_with_config(i, &conf, &args, &[])?;
        self.kind[i] = Server::Xdhcpd;
        let ready = t.elapsed();
        let normal = self.wait_normal(normal_within)?;
        Ok(Replacement { stop, ready, normal, exit_log })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: f64, kind: &str, ip: &str) -> Event {
        Event { at, kind: kind.into(), ip: Some(ip.into()), server: Some("198.18.0.1".into()), lease_secs: Some(30) }
    }

    #[test]
    fn events_parse_and_torn_lines_are_skipped() {
        let e = parse_events("1.5 deconfig - - -\n2.25 bound 198.18.0.100 198.18.0.2 10\n3 renew 198.18.0.1");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].ip, None);
        assert_eq!(e[1].server.as_deref(), Some("198.18.0.2"));
        assert_eq!(e[1].lease_secs, Some(10));
    }

    #[test]
    fn renewals_of_the_same_address_are_fine_anything_else_is_a_problem() {
        let ok = view(&[ev(1.0, "deconfig", "-"), ev(2.0, "bound", "a"), ev(3.0, "renew", "a")]);
        assert!(ok.problems.is_empty(), "{ok:?}");
        assert_eq!(ok.renewals.len(), 1);
        for bad in ["nak", "deconfig", "leasefail"] {
            let v = view(&[ev(2.0, "bound", "a"), ev(3.0, bad, "a")]);
            assert_eq!(v.problems.len(), 1, "{bad}: {v:?}");
        }
        let moved = view(&[ev(2.0, "bound", "a"), ev(3.0, "renew", "b")]);
        assert_eq!(moved.problems.len(), 1);
    }

    #[test]
    fn dhcpd_states_come_from_its_last_moves() {
        let log: Vec<String> = [
            "failover peer lab: I move from recover to startup",
            "failover peer lab: peer moves from unknown-state to recover",
            "failover peer lab: I move from startup to normal",
            "failover peer lab: peer moves from recover to normal",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(dhcpd_states(&log), (Some("normal".into()), Some("normal".into())));
    }

    #[test]
    fn the_config_has_the_short_leases() -> Result<()> {
        let c = migrate_config(0, MCLT)?;
        assert!(c.contains(&format!("default-lease-time {LEASE_SECS};")), "{c}");
        Ok(())
    }
}
