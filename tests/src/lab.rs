//! A one-server lab: a server namespace running xdhcpd and a client namespace, joined by a
//! veth pair on 198.18.0.0/24 (server 198.18.0.1). Torn down on drop.

use crate::netns::{self, Netns};
use crate::process::Proc;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SERVER_IP: &str = "198.18.0.1";

pub struct Lab {
    pub srv: Netns,
    pub cli: Netns,
    pub srv_if: String,
    pub cli_if: String,
    pub dir: PathBuf,
    pub server: Option<Proc>,
}

/// A lab-friendly dhcpd.conf: one directly attached subnet, one relayed subnet.
pub fn default_config(lease_secs: u32) -> String {
    format!(
        "# xdhcpd integration test\n\
         default-lease-time {lease_secs};\nmax-lease-time {max};\nauthoritative;\nddns-update-style none;\n\
         subnet 198.18.0.0 netmask 255.255.255.0 {{\n  range 198.18.0.100 198.18.0.199;\n  option routers 198.18.0.1;\n  option domain-name-servers 198.18.0.1;\n  option domain-name \"lab.test\";\n}}\n\
         subnet 198.18.1.0 netmask 255.255.255.0 {{\n  range 198.18.1.100 198.18.1.199;\n  option routers 198.18.1.1;\n}}\n\
         host printer {{ hardware ethernet 52:54:00:00:00:99; fixed-address 198.18.0.5; }}\n",
        max = lease_secs.max(7200)
    )
}

impl Lab {
    pub fn new(config: &str) -> Result<Lab> {
        let srv = Netns::new("xs")?;
        let cli = Netns::new("xc")?;
        let srv_if = netns::unique("vs");
        let cli_if = netns::unique("vc");
        netns::veth(&srv, &srv_if, Some("198.18.0.1/24"), &cli, &cli_if, None)?;
        let dir = std::env::temp_dir().join(netns::unique("xdhcpd-lab-"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("dhcpd.conf"), config)?;
        Ok(Lab { srv, cli, srv_if, cli_if, dir, server: None })
    }

    pub fn lease_file(&self) -> PathBuf {
        self.dir.join("dhcpd.leases")
    }

    /// Start xdhcpd (extra args appended) and wait until it is ready.
    pub fn start_server(&mut self, extra: &[&str]) -> Result<()> {
        let bin = crate::xdhcpd_bin()?;
        let mut cmd = self.srv.command(bin.to_str().context("path")?);
        let conf = self.dir.join("dhcpd.conf");
        let leases = self.lease_file();
        cmd.args(["-c", conf.to_str().context("path")?, "-l", leases.to_str().context("path")?]);
        cmd.args(extra);
        cmd.arg(&self.srv_if);
        let mut p = Proc::spawn("xdhcpd", cmd)?;
        p.wait_line(Duration::from_secs(30), |l| l.contains("\"ready\""))?;
        self.server = Some(p);
        Ok(())
    }

    /// Start the real ISC dhcpd on the lab's configuration instead (an empty lease file, in
    /// the foreground) and wait until it serves; the lab's guard ends it on drop.
    pub fn start_dhcpd(&mut self) -> Result<()> {
        std::fs::write(self.lease_file(), "")?;
        let p = |p: PathBuf| p.to_string_lossy().into_owned();
        let mut cmd = self.srv.command("dhcpd");
        cmd.args(["-f", "-4", "-d", "-cf", &p(self.dir.join("dhcpd.conf")), "-lf", &p(self.lease_file())]);
        cmd.args(["-pf", &p(self.dir.join("dhcpd.pid")), &self.srv_if]);
        let proc = Proc::spawn("dhcpd", cmd)?;
        proc.wait_stderr_line(Duration::from_secs(20), |l| l.contains("Server starting service"))?;
        self.server = Some(proc);
        Ok(())
    }

    /// SIGKILL the server (crash).
    pub fn kill_server(&mut self) -> Result<()> {
        if let Some(mut p) = self.server.take() {
            p.signal(libc::SIGKILL);
            p.wait_exit(Duration::from_secs(5))?;
        }
        Ok(())
    }

    /// SIGTERM the server and return its final stats line.
    pub fn stop_server(&mut self) -> Result<serde_json::Value> {
        let Some(mut p) = self.server.take() else { bail!("no server") };
        p.signal(libc::SIGTERM);
        let line = p.wait_line(Duration::from_secs(10), |l| l.contains("\"stopped\""))?;
        p.wait_exit(Duration::from_secs(5))?;
        Ok(serde_json::from_str::<serde_json::Value>(&line)?["stats"].clone())
    }

    /// A macvlan interface on the client side of the veth: a separate client with its own MAC.
    pub fn add_client_iface(&self, name: &str, mac: &str) -> Result<()> {
        self.cli.exec(&[
            "ip",
            "link",
            "add",
            name,
            "link",
            &self.cli_if,
            "address",
            mac,
            "type",
            "macvlan",
            "mode",
            "bridge",
        ])?;
        self.cli.exec(&["ip", "link", "set", name, "up"])?;
        Ok(())
    }

    /// Write a udhcpc script that configures the address and logs events to `<dir>/<iface>.events`.
    pub fn udhcpc_script(&self) -> Result<PathBuf> {
        let p = self.dir.join("udhcpc.sh");
        let log = self.dir.to_str().context("path")?;
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\ncase \"$1\" in\n  bound|renew) ip addr flush dev \"$interface\"; ip addr add \"$ip/$subnet\" dev \"$interface\"; echo \"$1 $ip $lease\" >> {log}/\"$interface\".events ;;\n  deconfig) ip addr flush dev \"$interface\" ;;\n  *) echo \"$1\" >> {log}/\"$interface\".events ;;\nesac\nexit 0\n"
            ),
        )?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        Ok(p)
    }

    /// Run `udhcpc` once on `iface` (obtain a lease and exit); returns the bound address.
    pub fn udhcpc_once(&self, iface: &str) -> Result<String> {
        let script = self.udhcpc_script()?;
        let out = self
            .cli
            .command("timeout")
            .args(["20", "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "2", "-i", iface, "-s"])
            .arg(&script)
            .output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        parse_after(&text, "lease of ").with_context(|| format!("udhcpc got no lease:\n{text}"))
    }

    /// Run `udhcpc` once on `iface` and return the environment its script saw on `bound`.
    pub fn udhcpc_env(&self, iface: &str) -> Result<std::collections::BTreeMap<String, String>> {
        udhcpc_env(&self.cli, &self.dir, iface)
    }

    /// Run `dhclient -1` on `iface`; returns the bound address.
    pub fn dhclient_once(&self, iface: &str) -> Result<String> {
        let lf = self.dir.join(format!("dhclient-{iface}.leases"));
        let pf = self.dir.join(format!("dhclient-{iface}.pid"));
        let out = self
            .cli
            .command("timeout")
            .args(["30", "dhclient", "-1", "-v", "-4", "-lf"])
            .arg(&lf)
            .arg("-pf")
            .arg(&pf)
            .args(["-sf", "/bin/true", iface])
            .output()?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        // dhclient forks into the background after binding; stop it (the namespace also kills it).
        if let Ok(pid) = std::fs::read_to_string(&pf) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
        parse_after(&text, "bound to ").with_context(|| format!("dhclient got no lease:\n{text}"))
    }

    /// The lease file's text.
    pub fn lease_text(&self) -> String {
        std::fs::read_to_string(self.lease_file()).unwrap_or_default()
    }
}

/// The whitespace-delimited word after `marker` in the last line that contains it.
pub fn parse_after(text: &str, marker: &str) -> Option<String> {
    text.lines()
        .rev()
        .find_map(|l| l.find(marker).map(|i| &l[i + marker.len()..]))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|s| s.trim_end_matches(',').to_string())
}

/// The binding state of the last record for `ip` in a dhcpd.leases text.
pub fn lease_state(text: &str, ip: &str) -> Option<String> {
    let header = format!("lease {ip} {{");
    let start = text.rfind(&header)?;
    let body = &text[start..];
    let end = body.find('}')?;
    body[..end]
        .lines()
        .find_map(|l| l.trim().strip_prefix("binding state ").map(|s| s.trim_end_matches(';').to_string()))
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.server.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Run `udhcpc` once on `iface` in `ns` and return the environment its script saw on `bound`:
/// the offered options by udhcpc's names (`ip`, `domain`, `router`, `lease`...). The script
/// and its dump go to `dir`.
pub fn udhcpc_env(ns: &Netns, dir: &Path, iface: &str) -> Result<std::collections::BTreeMap<String, String>> {
    let dump = dir.join(format!("{iface}.env"));
    let script = dir.join(format!("udhcpc-env-{iface}.sh"));
    std::fs::write(
        &script,
        format!("#!/bin/sh\n[ \"$1\" = bound ] && env > {}\nexit 0\n", dump.to_str().context("path")?),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    let out = ns
        .command("timeout")
        .args(["25", "udhcpc", "-f", "-q", "-n", "-t", "6", "-T", "2", "-i", iface, "-s"])
        .arg(&script)
        .output()?;
    let text = std::fs::read_to_string(&dump).with_context(|| {
        format!(
            "udhcpc on {iface} got no lease:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}
