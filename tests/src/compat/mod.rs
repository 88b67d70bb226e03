//! The differential harness against the real ISC dhcpd (issue 11): the same dhcpd.conf files
//! from public deployments (`tests/corpus/dhcpd.conf/`, each with its origin in `SOURCES.md`)
//! go to `dhcpd -t` and `xdhcpd --check` (same verdict?), then every file both accept is
//! served by each in a namespace and the same battery of client packets goes to both (same
//! answer?). `tests/compat.rs` runs it; `cargo xtask compat` prints the whole table.
//!
//! Allowed differences, and why (nothing else is allowed):
//! - **Which free address a dynamic pool offers.** dhcpd and xdhcpd pick free leases in a
//!   different order; the two addresses must come from the same pool (then everything the
//!   client sees from that pool is the same). A reply sent to the offered address counts as
//!   the same destination.
//! - **The configuration is translated** into 198.18.0.0/15 ([`translate`]) and gets
//!   `ping-check false;` in front, for both servers alike: both ping before each offer by
//!   default (`tests/ping_check.rs` checks it against dhcpd), and every OFFER would wait a
//!   second for an echo that never comes, past the battery's wait for an answer (a file
//!   that writes `ping-check true` itself still overrides it, for both).
//! - **Failover declarations are taken out** for the answers run (a server alone with a
//!   failover peer waits for its partner instead of answering); the corpus's failover pairs
//!   run as pairs, xdhcpd with a dhcpd partner, in `tests/compat_pair.rs` ([`pairs`]).

pub mod packet;
pub mod pairs;
pub mod translate;

use crate::netns::{Netns, unique, veth};
use crate::process::Proc;
use anyhow::{Context, Result, bail};
use packet::{PRL, Reply, Request, kind_name};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use translate::{AddressMap, Net};

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    crate::workspace_root().join("tests/corpus/dhcpd.conf")
}

/// The corpus files (`*.conf`), sorted.
pub fn corpus_files() -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .context("tests/corpus/dhcpd.conf")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        // Included files are read through the file that includes them.
        .filter(|p| !p.to_string_lossy().contains(".inc-"))
        // `COMPAT_FILES=025,038` keeps the files whose names start with those prefixes.
        .filter(|p| match std::env::var("COMPAT_FILES") {
            Ok(only) => {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                only.split(',').any(|prefix| name.starts_with(prefix.trim()))
            }
            Err(_) => true,
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The text of a corpus file with its `include` statements pointing at the included files
/// saved beside it (`<stem>.inc-<basename>`), as the deployment had them; with `inline`, the
/// included text replaces the statement (so that a translation covers it too).
pub fn corpus_text(path: &Path, inline: bool) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("include")
            && let Some(original) = rest.split('"').nth(1)
        {
            let base = original.rsplit('/').next().unwrap_or(original);
            let local = dir.join(format!("{stem}.inc-{base}"));
            if local.is_file() && inline {
                out.push_str(&std::fs::read_to_string(&local)?);
                out.push('\n');
                continue;
            }
            if local.is_file() {
                out.push_str(&line.replacen(original, &local.to_string_lossy(), 1));
                continue;
            }
        }
        out.push_str(line);
    }
    Ok(out)
}

/// A verdict on a whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Rejected, with the first error line.
    Reject(String),
}

impl Verdict {
    pub fn accepts(&self) -> bool {
        *self == Verdict::Accept
    }
    pub fn word(&self) -> &'static str {
        if self.accepts() { "accept" } else { "reject" }
    }
}

/// `dhcpd -t` on a configuration file.
pub fn dhcpd_verdict(conf: &Path) -> Result<Verdict> {
    let out = std::process::Command::new("dhcpd")
        .args(["-t", "-4", "-q", "-cf"])
        .arg(conf)
        .args(["-lf", "/dev/null"])
        .output()
        .context("running dhcpd -t (apt-get install isc-dhcp-server)")?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        return Ok(Verdict::Accept);
    }
    let first = text
        .lines()
        .find(|l| l.contains("line ") || l.contains("rror"))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("(no message)");
    Ok(Verdict::Reject(first.trim().to_string()))
}

/// `xdhcpd --check` on a configuration file.
pub fn xdhcpd_verdict(conf: &Path) -> Result<Verdict> {
    let out = std::process::Command::new(crate::xdhcpd_bin()?).args(["--check", "-c"]).arg(conf).output()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        return Ok(Verdict::Accept);
    }
    let first = text
        .lines()
        .map(crate::process::strip_ansi)
        .find(|l| l.contains("error"))
        .unwrap_or_else(|| text.lines().next().unwrap_or("(no message)").to_string());
    Ok(Verdict::Reject(first.trim().to_string()))
}

/// `text` without its failover declarations: the `failover peer "NAME" { ... }` blocks and
/// the `failover peer "NAME";` references in pools (see the module comment).
pub fn without_failover(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                i += 1;
            }
            b'f' if text[i..].starts_with("failover") && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) => {
                let after = text[i + 8..].trim_start();
                if !after.starts_with("peer") {
                    i += 8;
                    continue;
                }
                // Up to the first `;` or the `{ ... }` block, whichever comes first.
                let mut j = i;
                let mut depth = 0;
                while j < b.len() {
                    match b[j] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                j += 1;
                                break;
                            }
                        }
                        b';' if depth == 0 => {
                            j += 1;
                            break;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                out.push_str(&text[copied..i]);
                copied = j;
                i = j;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A configuration made ready to serve in a namespace: translated, failover out,
/// `ping-check false` in front.
pub struct Prepared {
    pub text: String,
    pub config: dhcp_config::Config,
    /// The subnet the server's interface is on, its address, and the relays' addresses (one
    /// per other subnet, in file order).
    pub home: Net,
    pub server: Ipv4Addr,
    pub relays: Vec<Ipv4Addr>,
    /// An address of the home subnet for INFORM, outside every range (none when the ranges
    /// fill the subnet: the battery then has no INFORM).
    pub inform_from: Option<Ipv4Addr>,
    /// The interfaces `interface` statements name, each with an address (a /32) of the
    /// shared network it is tied to: both servers must find them to start. The one tied
    /// to the home network is the server's interface itself ([`Prepared::home_if`]).
    pub tied: Vec<(String, Ipv4Addr)>,
    /// The name an `interface` statement gives the home network's interface, if any.
    pub home_if: Option<String>,
}

fn subnets_of(config: &dhcp_config::Config) -> Vec<(Net, bool)> {
    let mut v = Vec::new();
    for sn in &config.shared_networks {
        for (i, s) in sn.subnets.iter().enumerate() {
            let has_range = sn.pools.iter().any(|p| p.subnet_index == i && !p.ranges.is_empty());
            v.push((Net { network: s.network, prefix: s.prefix_len }, has_range));
        }
    }
    v
}

/// The subnet added to a file that declares none (see [`prepare`]).
const LAB_SUBNET: &str = "subnet 198.18.0.0 netmask 255.255.255.0 {\n  pool { range 198.18.0.100 198.18.0.200; }\n}\n";

/// Prepare corpus text (includes already resolved) for the answers run.
pub fn prepare(text: &str, dir: &Path) -> Result<Prepared> {
    let mut original = dhcp_config::parse_str("corpus.conf", text, &dhcp_config::FsLoader)
        .map_err(|e| anyhow::anyhow!("xdhcpd refuses the file: {e}"))?;
    // A file of global statements only (option definitions, classes, a manual page's
    // example) serves nobody as written: one subnet with a pool is added at the end, so that
    // its statements reach clients. Both servers get the same text.
    let with_subnet;
    let text = if subnets_of(&original.config).is_empty() {
        with_subnet = format!("{text}\n{LAB_SUBNET}");
        original = dhcp_config::parse_str("corpus.conf", &with_subnet, &dhcp_config::FsLoader)
            .map_err(|e| anyhow::anyhow!("xdhcpd refuses the file with a subnet added: {e}"))?;
        with_subnet.as_str()
    } else {
        text
    };
    let nets = subnets_of(&original.config);
    if nets.is_empty() {
        bail!("no subnet declared");
    }
    let map =
        AddressMap::new(&nets.iter().map(|(n, _)| *n).collect::<Vec<_>>(), text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = format!("ping-check false;\n{}", without_failover(&map.apply(text)));
    let path = dir.join("translated.conf");
    std::fs::write(&path, &text)?;
    let config =
        dhcp_config::parse_file(&path).map_err(|e| anyhow::anyhow!("xdhcpd refuses the translated file: {e}"))?.config;
    let used: BTreeSet<Ipv4Addr> = translate::literals(&text).into_iter().map(|(_, a)| a).collect();
    let ranges: Vec<dhcp_config::AddrRange> =
        config.shared_networks.iter().flat_map(|sn| sn.pools.iter().flat_map(|p| p.ranges.iter().copied())).collect();
    let free_in = |n: Net, skip: &BTreeSet<Ipv4Addr>| -> Option<Ipv4Addr> {
        let first = u32::from(n.network) + 1;
        let last = u32::from(n.network) + ((1u64 << (32 - u32::from(n.prefix))) as u32).saturating_sub(2);
        (first..=last)
            .map(Ipv4Addr::from)
            .find(|a| !used.contains(a) && !skip.contains(a) && !ranges.iter().any(|r| r.contains(*a)))
    };
    let translated: Vec<(Net, bool)> = subnets_of(&config);
    let home = translated.iter().find(|(_, r)| *r).or(translated.first()).map(|(n, _)| *n).context("no subnet")?;
    let mut taken = BTreeSet::new();
    let server = free_in(home, &taken).context("no free address for the server in its subnet")?;
    taken.insert(server);
    let inform_from = free_in(home, &taken);
    taken.extend(inform_from);
    let mut relays = Vec::new();
    for (n, _) in translated.iter().filter(|(n, _)| *n != home).take(24) {
        if let Some(a) = free_in(*n, &taken) {
            taken.insert(a);
            relays.push(a);
        }
    }
    let (mut tied, mut home_if) = (Vec::new(), None);
    for b in &config.interfaces {
        let Some(sn) = config.shared_networks.get(b.shared_network) else { continue };
        if sn.subnets.iter().any(|s| s.network == home.network && s.prefix_len == home.prefix) {
            home_if = Some(b.name.clone());
            continue;
        }
        let net = sn.subnets.first();
        let addr = net.and_then(|s| free_in(Net { network: s.network, prefix: s.prefix_len }, &taken));
        let addr = addr.with_context(|| format!("no free address for interface {}", b.name))?;
        taken.insert(addr);
        tied.push((b.name.clone(), addr));
    }
    Ok(Prepared { text, config, home, server, relays, inform_from, tied, home_if })
}

/// Strings of `text` that follow `key` on the same line (quoted), e.g. the vendor classes a
/// configuration matches on. At most `max`, without duplicates.
fn quoted_after(text: &str, keys: &[&str], max: usize) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        // The comment starts at a `#` outside quotes (SONiC's identifiers hold `#`).
        let mut quoted = false;
        let end = line
            .char_indices()
            .find(|(_, ch)| {
                if *ch == '"' {
                    quoted = !quoted;
                }
                *ch == '#' && !quoted
            })
            .map_or(line.len(), |(i, _)| i);
        let line = &line[..end];
        if !keys.iter().any(|k| line.contains(k)) {
            continue;
        }
        for (i, s) in line.split('"').enumerate() {
            if i % 2 == 1 && !s.is_empty() && s.len() < 64 && !found.contains(&s.to_string()) && found.len() < max {
                found.push(s.to_string());
            }
        }
    }
    found
}

fn mac(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [0x52, 0x54, 0x00, b[1], b[2], b[3]]
}

/// The battery of requests for one prepared file.
pub fn battery(p: &Prepared) -> Vec<Request> {
    let mut v = Vec::new();
    let mut n = 0x10_0000u32;
    let mut next = || {
        n += 1;
        mac(n)
    };
    let discover = |label: &str, m: [u8; 6]| Request::new(label, m, Some(1)).option(55, PRL.to_vec());
    v.push(discover("plain client", next()));
    v.push(discover("client with a host name", next()).option(12, b"compat-host".to_vec()));
    v.push(discover("client with a client id", next()).option(61, vec![1, 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]));
    // Client FQDN options (81): where DNS updates are on, dhcpd's ACK answers them with its
    // flags and the name it used. One asks the server to update (S, wire form), one
    // updates its own A record (S clear, a full name in text).
    v.push(discover("client with an FQDN, S set", next()).option(81, b"\x05\x00\x00\x0bcompat-fqdn\x00".to_vec()));
    v.push(discover("client with an FQDN, S clear", next()).option(81, b"\x00\x00\x00self.compat.test".to_vec()));
    // Request lists in other orders: routers before the mask, and no mask at all (dhcpd
    // appends the mask to a DISCOVER's or REQUEST's list, then puts it before the routers).
    v.push(Request::new("client asking routers before the mask", next(), Some(1)).option(55, vec![3, 6, 15, 1, 28]));
    v.push(Request::new("client not asking for the mask", next(), Some(1)).option(55, vec![3, 6, 12, 15]));
    let mut broadcast = discover("client asking for broadcast", next());
    broadcast.flags = 0x8000;
    v.push(broadcast);
    let pxe = |label: &str, m: [u8; 6], arch: u16, vendor: &str| {
        Request::new(label, m, Some(1))
            .option(55, vec![1, 3, 6, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203])
            .option(60, vendor.as_bytes().to_vec())
            .option(93, arch.to_be_bytes().to_vec())
            .option(94, vec![1, 2, 1])
            .option(97, [vec![0u8], vec![0x11; 16]].concat())
    };
    v.push(pxe("PXE BIOS", next(), 0, "PXEClient:Arch:00000:UNDI:002001"));
    v.push(pxe("PXE UEFI x64", next(), 7, "PXEClient:Arch:00007:UNDI:003016"));
    v.push(pxe("PXE UEFI x64 (arch 9)", next(), 9, "PXEClient:Arch:00009:UNDI:003016"));
    v.push(
        pxe("iPXE", next(), 0, "PXEClient:Arch:00000:UNDI:002001")
            .option(77, b"iPXE".to_vec())
            .option(175, vec![19, 1, 1]),
    );
    for class in quoted_after(&p.text, &["vendor-class-identifier", "option vendor-class"], 8) {
        v.push(discover(&format!("vendor class \"{class}\""), next()).option(60, class.into_bytes()));
    }
    for class in quoted_after(&p.text, &["user-class"], 4) {
        v.push(discover(&format!("user class \"{class}\""), next()).option(77, class.into_bytes()));
    }
    // Client identifiers the configuration tests for (e.g. SONiC's, classed with
    // `ignore-client-uids`), as option 61.
    for id in quoted_after(&p.text, &["dhcp-client-identifier"], 4) {
        v.push(discover(&format!("client identifier \"{id}\""), next()).option(61, id.into_bytes()));
    }
    // ONIE machines the configuration tests for (`if option onie.machine = "..."`): ONIE's
    // vendor class, and its machine in option 125 (RFC 3925: enterprise 42623, then
    // ONIE's sub-option 3).
    for machine in quoted_after(&p.text, &["onie.machine"], 4) {
        let inner = [vec![3, machine.len() as u8], machine.clone().into_bytes()].concat();
        let vivso = [vec![0, 0, 0xa6, 0x7f, inner.len() as u8], inner].concat();
        v.push(
            Request::new(format!("ONIE machine \"{machine}\""), next(), Some(1))
                .option(55, [PRL, &[125]].concat())
                .option(60, format!("onie_vendor:x86_64-{machine}").into_bytes())
                .option(125, vivso),
        );
    }
    // Known hosts, each from its own subnet (relayed there when that is not the home one).
    let subnets: Vec<Net> = subnets_of(&p.config).into_iter().map(|(n, _)| n).collect();
    for h in p.config.hosts.iter().take(12) {
        let Some(chaddr) = h.hardware_ethernet else { continue };
        let mut r = discover(&format!("host {}", h.name), chaddr);
        if let Some(fixed) = h.fixed_addresses.first()
            && let Some(i) = subnets.iter().position(|n| u32::from(*fixed) & mask(n.prefix) == u32::from(n.network))
            && subnets[i] != p.home
        {
            let relay =
                p.relays.iter().find(|r| u32::from(**r) & mask(subnets[i].prefix) == u32::from(subnets[i].network));
            match relay {
                Some(g) => r.giaddr = *g,
                None => continue,
            }
        }
        v.push(r);
    }
    for (i, g) in p.relays.iter().enumerate() {
        let mut r = discover(&format!("relayed from {g}"), next());
        r.giaddr = *g;
        r = r.option(82, [vec![1, 6], b"port-1".to_vec(), vec![2, 6], mac(i as u32).to_vec()].concat());
        v.push(r);
    }
    if let Some(ciaddr) = p.inform_from {
        let mut inform = Request::new("INFORM", next(), Some(8)).option(55, PRL.to_vec());
        inform.ciaddr = ciaddr;
        v.push(inform);
    }
    v.push(Request::new("BOOTP client", next(), None));
    v
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

/// The two servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Dhcpd,
    Xdhcpd,
}

/// One server serving a prepared file in a namespace, and a client namespace wired to it.
pub struct Bench {
    _srv: Netns,
    cli: Netns,
    cli_if: String,
    server_mac: [u8; 6],
    server_ip: Ipv4Addr,
    proc: Proc,
}

impl Bench {
    pub fn start(which: Server, p: &Prepared, dir: &Path) -> Result<Bench> {
        let srv = Netns::new("xcs")?;
        let cli = Netns::new("xcc")?;
        // The server's interface takes the name an `interface` statement gives it.
        let (srv_if, cli_if) = (p.home_if.clone().unwrap_or_else(|| unique("xcs")), unique("xcc"));
        veth(&srv, &srv_if, Some(&format!("{}/{}", p.server, p.home.prefix)), &cli, &cli_if, None)?;
        srv.exec(&["ip", "route", "add", "198.18.0.0/15", "dev", &srv_if])?;
        // The client side answers ARP for the relays and the INFORM client, so that replies
        // sent to them leave the server.
        for a in p.relays.iter().chain(p.inform_from.as_ref()) {
            cli.exec(&["ip", "addr", "add", &format!("{a}/32"), "dev", &cli_if])?;
        }
        // Interfaces named by `interface` statements, with an address on their network
        // (a /32: no route of theirs takes the replies meant for the client side).
        for (name, addr) in &p.tied {
            let peer = unique("xct");
            srv.exec(&["ip", "link", "add", name, "type", "veth", "peer", "name", &peer])?;
            srv.exec(&["ip", "addr", "add", &format!("{addr}/32"), "dev", name])?;
            srv.exec(&["ip", "link", "set", name, "up"])?;
            srv.exec(&["ip", "link", "set", &peer, "up"])?;
        }
        let server_mac = link_mac(&srv, &srv_if)?;
        let conf = dir.join("translated.conf");
        let leases = dir.join(match which {
            Server::Dhcpd => "dhcpd.leases",
            Server::Xdhcpd => "xdhcpd.leases",
        });
        std::fs::write(&leases, "")?;
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let proc = match which {
            Server::Dhcpd => {
                let mut cmd = srv.command("dhcpd");
                cmd.args([
                    "-f",
                    "-4",
                    "-d",
                    "-cf",
                    &s(&conf),
                    "-lf",
                    &s(&leases),
                    "-pf",
                    &s(&dir.join("dhcpd.pid")),
                    &srv_if,
                ]);
                let proc = Proc::spawn("dhcpd", cmd)?;
                proc.wait_stderr_line(Duration::from_secs(20), |l| l.contains("Server starting service"))?;
                proc
            }
            Server::Xdhcpd => {
                let mut cmd = srv.command(&s(&crate::xdhcpd_bin()?));
                cmd.args(["-c", &s(&conf), "-l", &s(&leases), "--control-socket", &s(&dir.join("x.sock"))]);
                cmd.args(["--xdp-mode", "off", "--workers", "1", &srv_if]);
                let mut proc = Proc::spawn("xdhcpd", cmd)?;
                proc.wait_line(Duration::from_secs(20), |l| l.contains("\"ready\""))?;
                proc
            }
        };
        Ok(Bench { _srv: srv, cli, cli_if, server_mac, server_ip: p.server, proc })
    }

    /// Send each request (and a REQUEST for every OFFER) and collect the replies: for each
    /// request, its reply and, after an OFFER, the reply to the REQUEST that takes it.
    pub fn run(&self, battery: &[Request]) -> Result<Vec<(Option<Reply>, Option<Reply>)>> {
        let (cli_if, server_mac, server_ip) = (self.cli_if.clone(), self.server_mac, self.server_ip);
        let battery = battery.to_vec();
        crate::netns::in_netns(&self.cli.name, move || {
            let sock = RawSocket::open(&cli_if)?;
            let mut out = Vec::new();
            for (i, req) in battery.iter().enumerate() {
                let xid = 0x4000_0000 + (i as u32) * 2;
                let first = sock.exchange(req, xid, server_mac, server_ip)?;
                let second = match &first {
                    Some(offer) if offer.kind() == Some(2) => {
                        let mut r = req.clone();
                        r.kind = Some(3);
                        r.options.insert(0, (50, offer.yiaddr.octets().to_vec()));
                        if let Some(id) = offer.option(54) {
                            r.options.insert(1, (54, id.to_vec()));
                        }
                        sock.exchange(&r, xid + 1, server_mac, server_ip)?
                    }
                    _ => None,
                };
                out.push((first, second));
            }
            Ok(out)
        })
    }

    /// The server's log so far.
    pub fn log(&self) -> Vec<String> {
        let mut l = self.proc.stderr_lines();
        l.extend(self.proc.stdout_lines());
        l
    }
}

fn link_mac(ns: &Netns, ifname: &str) -> Result<[u8; 6]> {
    let out = ns.exec(&["cat", &format!("/sys/class/net/{ifname}/address")])?;
    let bytes: Vec<u8> = out.trim().split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
    <[u8; 6]>::try_from(bytes.as_slice()).map_err(|_| anyhow::anyhow!("bad MAC {out}"))
}

/// An AF_PACKET socket on the client side: sends requests as a client or a relay would and
/// receives the servers' replies (to any address: broadcast, the offered one, a relay's).
struct RawSocket {
    fd: i32,
    ifindex: i32,
}

impl RawSocket {
    fn open(iface: &str) -> Result<RawSocket> {
        let cname = std::ffi::CString::new(iface)?;
        // SAFETY: plain libc calls with valid arguments; the fd is closed on drop.
        unsafe {
            let ifindex = libc::if_nametoindex(cname.as_ptr()) as i32;
            if ifindex == 0 {
                bail!("no interface {iface}");
            }
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, (libc::ETH_P_IP as u16).to_be() as i32);
            if fd < 0 {
                bail!("socket(AF_PACKET): {}", std::io::Error::last_os_error());
            }
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = (libc::ETH_P_IP as u16).to_be();
            addr.sll_ifindex = ifindex;
            let s = RawSocket { fd, ifindex };
            if libc::bind(
                fd,
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            ) != 0
            {
                bail!("bind: {}", std::io::Error::last_os_error());
            }
            let tv = libc::timeval { tv_sec: 0, tv_usec: 50_000 };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            );
            Ok(s)
        }
    }

    fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: valid fd, buffer and address for the duration of the call.
        let n = unsafe {
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_ifindex = self.ifindex;
            addr.sll_halen = 6;
            libc::sendto(
                self.fd,
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            bail!("sendto: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Send `req` and wait up to 600 ms for the server's reply with `xid`.
    fn exchange(&self, req: &Request, xid: u32, server_mac: [u8; 6], server_ip: Ipv4Addr) -> Result<Option<Reply>> {
        let payload = req.encode(xid);
        let relayed = !req.giaddr.is_unspecified();
        let frame = if relayed {
            // From the relay, to the server, port 67 on both sides (RFC 1542).
            frame(mac(0xfffff0), server_mac, req.giaddr, server_ip, 67, 67, &payload)
        } else if !req.ciaddr.is_unspecified() {
            frame(req.chaddr, [0xff; 6], req.ciaddr, Ipv4Addr::BROADCAST, 68, 67, &payload)
        } else {
            frame(req.chaddr, [0xff; 6], Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST, 68, 67, &payload)
        };
        self.send(&frame)?;
        let deadline = Instant::now() + Duration::from_millis(600);
        let mut buf = vec![0u8; 2048];
        while Instant::now() < deadline {
            // SAFETY: valid fd and buffer.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if n <= 0 {
                continue;
            }
            if let Some(r) = Reply::from_frame(&buf[..n as usize])
                && r.xid == xid
            {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        // SAFETY: our own fd, closed once.
        unsafe { libc::close(self.fd) };
    }
}

fn frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = crate::frames::udp_frame(src_mac, src.octets(), dst.octets(), sport, dport, payload, 0);
    f[0..6].copy_from_slice(&dst_mac);
    f
}

/// How one reply differs from dhcpd's, field by field (empty: the same, allowed
/// differences aside).
pub fn differences(config: &dhcp_config::Config, d: &Reply, x: &Reply) -> Vec<String> {
    let mut diffs = Vec::new();
    let same_pool = |a: Ipv4Addr, b: Ipv4Addr| {
        config
            .shared_networks
            .iter()
            .flat_map(|sn| sn.pools.iter())
            .any(|p| p.ranges.iter().any(|r| r.contains(a)) && p.ranges.iter().any(|r| r.contains(b)))
    };
    let yiaddr_ok = d.yiaddr == x.yiaddr || same_pool(d.yiaddr, x.yiaddr);
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{name}: dhcpd {a}, xdhcpd {b}"));
        }
    };
    field("message", kind_name(d.kind()).into(), kind_name(x.kind()).into());
    if !yiaddr_ok {
        field("yiaddr", d.yiaddr.to_string(), x.yiaddr.to_string());
    }
    let dest = |r: &Reply| {
        if r.dst_ip == r.yiaddr && !r.yiaddr.is_unspecified() {
            "the offered address".to_string()
        } else {
            r.dst_ip.to_string()
        }
    };
    field("sent to", format!("{}:{}", dest(d), d.dst_port), format!("{}:{}", dest(x), x.dst_port));
    field("hops", d.hops.to_string(), x.hops.to_string());
    field("secs", d.secs.to_string(), x.secs.to_string());
    field("flags", format!("{:#06x}", d.flags), format!("{:#06x}", x.flags));
    field("ciaddr", d.ciaddr.to_string(), x.ciaddr.to_string());
    field("siaddr", d.siaddr.to_string(), x.siaddr.to_string());
    field("giaddr", d.giaddr.to_string(), x.giaddr.to_string());
    field("chaddr", hex(&d.chaddr), hex(&x.chaddr));
    field("sname", String::from_utf8_lossy(&d.sname).into(), String::from_utf8_lossy(&x.sname).into());
    field("file", String::from_utf8_lossy(&d.file).into(), String::from_utf8_lossy(&x.file).into());
    let codes = |r: &Reply| r.options.iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>().join(",");
    field("option order", codes(d), codes(x));
    // An infinite lease's time is what is left until dhcpd's MAX_TIME (2038), so it
    // depends on the moment of the answer: the two servers answer a few seconds apart.
    let until_max_time = |v: &[u8]| {
        <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes).filter(|t| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            (0x7fff_ffff_u64.saturating_sub(now)).abs_diff(u64::from(*t)) < 600
        })
    };
    for (code, data) in &d.options {
        match x.option(*code) {
            Some(xd) if xd == data.as_slice() => {}
            Some(xd) if *code == 51 && until_max_time(data).is_some() && until_max_time(xd).is_some() => {}
            Some(xd) => diffs.push(format!("option {code}: dhcpd {}, xdhcpd {}", hex(data), hex(xd))),
            None => {}
        }
    }
    diffs
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A scratch directory removed (with its contents) on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(prefix: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The differences from dhcpd that are known and not fixed yet, each with its reason
/// (`tests/corpus/dhcpd.conf/DIFFERENCES`): lines `FILE verdict: REASON`,
/// `FILE answer LABEL: REASON` or `FILE pair: REASON` (FILE: a failover pair's primary). A
/// difference not listed fails the harness, and so does a listed one that no longer happens
/// (the list only shrinks).
pub struct Known {
    entries: Vec<(String, String)>,
}

impl Known {
    pub fn load() -> Result<Known> {
        let text = std::fs::read_to_string(corpus_dir().join("DIFFERENCES")).unwrap_or_default();
        let entries = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(": ").map(|(k, why)| (k.trim().to_string(), why.trim().to_string())))
            .collect();
        Ok(Known { entries })
    }

    /// The reason a difference with this key is known, if it is.
    pub fn reason(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, why)| why.as_str())
    }

    /// Listed keys of `kind` ("verdict", "answer" or "pair") for one of `files` (the files this run
    /// looked at: `COMPAT_FILES` may leave some out) that are not in `seen`.
    pub fn stale(&self, kind: &str, files: &[PathBuf], seen: &BTreeSet<String>) -> Vec<String> {
        let run: BTreeSet<String> =
            files.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
        self.entries
            .iter()
            .filter(|(k, _)| k.split_whitespace().next().is_some_and(|f| run.contains(f)))
            .filter(|(k, _)| k.split_whitespace().nth(1) == Some(kind) && !seen.contains(k))
            .map(|(k, _)| k.clone())
            .collect()
    }
}
