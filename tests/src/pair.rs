//! A failover pair lab: two server namespaces (198.18.0.1 primary, 198.18.0.2 secondary)
//! and a client namespace holding a bridge that joins them; clients are macvlan interfaces on
//! the bridge. Everything is removed on drop.

use crate::netns::{self, Netns};
use crate::process::Proc;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const ADDR: [&str; 2] = ["198.18.0.1", "198.18.0.2"];

pub struct PairLab {
    pub srv: [Netns; 2],
    pub cli: Netns,
    pub ifs: [String; 2],
    pub dir: PathBuf,
    pub servers: [Option<Proc>; 2],
}

/// The pair's dhcpd.conf for server `i` (0 primary, 1 secondary). `ping-check false`: the
/// failover tests time MCLT, load balancing and partner-down in seconds, and udhcpc's retries
/// in a few; dhcpd's default of a one-second ping before every new address's OFFER would
/// shift them all (`tests/ping_check.rs` tests the ping itself).
pub fn pair_config(i: usize, mclt: u32, split: u16, lbms: u32, auto_partner_down: u32) -> String {
    let (role, me, peer) = if i == 0 { ("primary", ADDR[0], ADDR[1]) } else { ("secondary", ADDR[1], ADDR[0]) };
    let extra = if i == 0 { format!("mclt {mclt}; split {split};") } else { String::new() };
    let apd = if auto_partner_down > 0 { format!("auto-partner-down {auto_partner_down};") } else { String::new() };
    format!(
        "authoritative;\nddns-update-style none;\nping-check false;\ndefault-lease-time 600;\nmax-lease-time 7200;\n\
         failover peer \"lab\" {{\n  {role};\n  address {me}; port 647;\n  peer address {peer}; peer port 647;\n  \
         max-response-delay 5; max-unacked-updates 10;\n  load balance max seconds {lbms};\n  {extra}\n  {apd}\n}}\n\
         subnet 198.18.0.0 netmask 255.255.255.0 {{\n  option routers 198.18.0.1;\n  pool {{ failover peer \"lab\"; range 198.18.0.100 198.18.0.199; }}\n}}\n"
    )
}

impl PairLab {
    pub fn new(configs: [String; 2]) -> Result<PairLab> {
        PairLab::with_addresses(configs, [&format!("{}/24", ADDR[0]), &format!("{}/24", ADDR[1])])
    }

    /// A lab whose servers have the addresses `cidrs` (address/prefix, primary first): a
    /// corpus pair's configurations name their own (translated) failover addresses.
    pub fn with_addresses(configs: [String; 2], cidrs: [&str; 2]) -> Result<PairLab> {
        let srv = [Netns::new("fp")?, Netns::new("fs")?];
        let cli = Netns::new("fc")?;
        cli.exec(&["ip", "link", "add", "br0", "type", "bridge"])?;
        cli.exec(&["ip", "link", "set", "br0", "up"])?;
        let ifs = [netns::unique("fv"), netns::unique("fv")];
        for i in 0..2 {
            let port = format!("bp{i}");
            netns::veth(&srv[i], &ifs[i], Some(cidrs[i]), &cli, &port, None)?;
            cli.exec(&["ip", "link", "set", &port, "master", "br0"])?;
        }
        let dir = std::env::temp_dir().join(netns::unique("xdhcpd-pair-"));
        std::fs::create_dir_all(&dir)?;
        for (i, c) in configs.iter().enumerate() {
            std::fs::write(dir.join(format!("s{i}.conf")), c)?;
        }
        Ok(PairLab { srv, cli, ifs, dir, servers: [None, None] })
    }

    pub fn lease_file(&self, i: usize) -> PathBuf {
        self.dir.join(format!("s{i}.leases"))
    }

    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.join(format!("s{i}.sock"))
    }

    pub fn start(&mut self, i: usize, extra: &[&str]) -> Result<()> {
        self.start_env(i, extra, &[])
    }

    /// `start` with extra environment variables for the server (e.g. `RUST_LOG`).
    pub fn start_env(&mut self, i: usize, extra: &[&str], env: &[(&str, &str)]) -> Result<()> {
        self.start_with_config(i, &self.dir.join(format!("s{i}.conf")), extra, env)
    }

    /// xdhcpd as server `i` reading the configuration `conf` (e.g. [`PairLab::dhcpd_config`],
    /// the file a dhcpd that ran here read) and the lease file [`PairLab::lease_file`].
    pub fn start_with_config(&mut self, i: usize, conf: &Path, extra: &[&str], env: &[(&str, &str)]) -> Result<()> {
        let bin = crate::xdhcpd_bin()?;
        let mut cmd = self.srv[i].command(bin.to_str().context("path")?);
        cmd.envs(env.iter().copied());
        let p = |p: PathBuf| p.to_string_lossy().into_owned();
        cmd.args(["-c", &p(conf.to_path_buf()), "-l", &p(self.lease_file(i))]);
        cmd.args(["--control-socket", &p(self.socket(i))]);
        cmd.args(extra);
        cmd.arg(&self.ifs[i]);
        let mut proc = Proc::spawn(&format!("xdhcpd-{i}"), cmd)?;
        proc.wait_line(Duration::from_secs(30), |l| l.contains("\"ready\""))?;
        self.servers[i] = Some(proc);
        Ok(())
    }

    /// Start a real ISC dhcpd 4.4 as server `i`, with the same configuration text.
    pub fn start_dhcpd(&mut self, i: usize) -> Result<()> {
        std::fs::write(self.lease_file(i), "")?;
        self.start_dhcpd_with_leases(i)
    }

    /// [`PairLab::start_dhcpd`] on the lease file already in place.
    pub fn start_dhcpd_with_leases(&mut self, i: usize) -> Result<()> {
        let conf = self.dhcpd_config(i);
        let text = std::fs::read_to_string(self.dir.join(format!("s{i}.conf")))?;
        std::fs::write(&conf, text)?;
        let p = |p: PathBuf| p.to_string_lossy().into_owned();
        let mut cmd = self.srv[i].command("dhcpd");
        cmd.args([
            "-f",
            "-4",
            "-d",
            "-cf",
            &p(conf),
            "-lf",
            &p(self.lease_file(i)),
            "-pf",
            &p(self.dir.join(format!("d{i}.pid"))),
        ]);
        cmd.arg(&self.ifs[i]);
        self.servers[i] = Some(Proc::spawn(&format!("dhcpd-{i}"), cmd)?);
        Ok(())
    }

    /// The dhcpd.conf a dhcpd started as server `i` reads: a copy of `s{i}.conf`.
    pub fn dhcpd_config(&self, i: usize) -> PathBuf {
        self.dir.join(format!("d{i}.conf"))
    }

    /// SIGTERM server `i` (dhcpd or xdhcpd), as `systemctl stop` does, and wait for its exit.
    /// Returns its exit status and its log (stderr lines).
    pub fn stop(&mut self, i: usize, within: Duration) -> Result<(std::process::ExitStatus, Vec<String>)> {
        let Some(mut p) = self.servers[i].take() else { bail!("server {i} is not running") };
        p.signal(libc::SIGTERM);
        let status = p.wait_exit(within).with_context(|| format!("stopping server {i} ({})", p.name))?;
        Ok((status, p.stderr_lines()))
    }

    /// dhcpd's own log lines (stderr) of server `i`.
    pub fn server_log(&self, i: usize) -> Vec<String> {
        self.servers[i].as_ref().map(|p| p.stderr_lines()).unwrap_or_default()
    }

    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut p) = self.servers[i].take() {
            p.signal(libc::SIGKILL);
            p.wait_exit(Duration::from_secs(5))?;
        }
        Ok(())
    }

    /// `xdhcpd status --json` of server `i`.
    pub fn status(&self, i: usize) -> Result<serde_json::Value> {
        crate::control_status(&self.socket(i))
    }

    /// (my state, partner state) of server `i`'s relationship.
    pub fn states(&self, i: usize) -> Result<(String, String)> {
        let v = self.status(i)?;
        let r = &v["relationships"][0];
        Ok((r["my_state"].as_str().unwrap_or("?").to_string(), r["partner_state"].as_str().unwrap_or("?").to_string()))
    }

    /// Wait until server `i` is in `mine` (and, if given, sees the partner in `partner`).
    pub fn wait_state(&self, i: usize, mine: &str, partner: Option<&str>, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if let Ok((m, p)) = self.states(i)
                && m == mine
                && partner.is_none_or(|want| want == p)
            {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("server {i} not in {mine}/{partner:?} after {timeout:?}: {:?}", self.states(i).ok());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Take the primary's link down inside its namespace until both servers are in
    /// COMMUNICATIONS-INTERRUPTED (max-response-delay ends the connection), bring it back,
    /// and wait for NORMAL/NORMAL. Returns how long the heal took once the link was up.
    pub fn cut_and_heal_link(&self) -> Result<Duration> {
        self.srv[0].exec(&["ip", "link", "set", &self.ifs[0], "down"])?;
        self.wait_state(1, "communications-interrupted", None, Duration::from_secs(20))?;
        self.wait_state(0, "communications-interrupted", None, Duration::from_secs(20))?;
        self.srv[0].exec(&["ip", "link", "set", &self.ifs[0], "up"])?;
        let t = self.wait_state(0, "normal", Some("normal"), Duration::from_secs(30))?;
        self.wait_state(1, "normal", Some("normal"), Duration::from_secs(10))?;
        Ok(t)
    }

    pub fn add_client(&self, name: &str, mac: &str) -> Result<()> {
        self.cli
            .exec(&["ip", "link", "add", name, "link", "br0", "address", mac, "type", "macvlan", "mode", "bridge"])?;
        self.cli.exec(&["ip", "link", "set", name, "up"])?;
        Ok(())
    }

    /// One udhcpc exchange on `iface`: (address, server that answered).
    pub fn udhcpc(&self, iface: &str) -> Result<(String, String)> {
        self.udhcpc_lease(iface).map(|l| (l.ip, l.server))
    }

    /// One udhcpc exchange on `iface`: what udhcpc reported.
    pub fn udhcpc_lease(&self, iface: &str) -> Result<UdhcpcLease> {
        let out = self
            .cli
            .command("timeout")
            .args(["25", "udhcpc", "-f", "-q", "-n", "-t", "6", "-T", "2", "-i", iface, "-s", "/bin/true"])
            .output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let ip = crate::lab::parse_after(&text, "lease of ")
            .with_context(|| format!("udhcpc on {iface}: no lease\n{text}"))?;
        let server =
            crate::lab::parse_after(&text, "obtained from ").with_context(|| format!("udhcpc: no server\n{text}"))?;
        let lease_secs = crate::lab::parse_after(&text, "lease time ").and_then(|s| s.parse().ok());
        Ok(UdhcpcLease { ip, server, lease_secs })
    }

    pub fn leases(&self, i: usize) -> String {
        std::fs::read_to_string(self.lease_file(i)).unwrap_or_default()
    }
}

/// udhcpc's report of one exchange ("lease of IP obtained from SERVER, lease time SECS").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdhcpcLease {
    pub ip: String,
    pub server: String,
    /// The granted lease time, when udhcpc printed it.
    pub lease_secs: Option<u64>,
}

impl Drop for PairLab {
    fn drop(&mut self) {
        self.servers = [None, None];
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Active bindings in a dhcpd.leases text: ip → hardware address (last record per ip wins).
pub fn active_bindings(text: &str) -> std::collections::BTreeMap<String, String> {
    lease_records(text).into_iter().filter(|(_, (s, _))| s == "active").map(|(ip, (_, hw))| (ip, hw)).collect()
}

/// The last record of every lease in a dhcpd.leases text: ip → (binding state, hardware
/// address, empty when none).
pub fn lease_records(text: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let mut last: std::collections::BTreeMap<String, (String, String)> = Default::default();
    let mut cur_ip: Option<String> = None;
    let (mut state, mut hw) = (String::new(), String::new());
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("lease ") {
            cur_ip = rest.split_whitespace().next().map(String::from);
            state.clear();
            hw.clear();
        } else if let Some(s) = l.strip_prefix("binding state ") {
            state = s.trim_end_matches(';').to_string();
        } else if let Some(h) = l.strip_prefix("hardware ethernet ") {
            hw = h.trim_end_matches(';').to_string();
        } else if l == "}"
            && let Some(ip) = cur_ip.take()
        {
            last.insert(ip, (state.clone(), hw.clone()));
        }
    }
    last
}
