//! A real BIND 9 `named`, authoritative for the zones the tests give it, accepting RFC 2136
//! updates signed with one TSIG key; started inside a test namespace, killed on drop (the
//! namespace going away takes it too). `dig` (run in the same namespace) reads the zones.

use crate::netns::Netns;
use crate::process::Proc;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A TSIG key as both BIND and dhcpd.conf write it.
#[derive(Clone, Debug)]
pub struct TsigKey {
    pub name: String,
    /// `hmac-sha256`, `hmac-md5`...
    pub algorithm: String,
    /// Base64.
    pub secret: String,
}

impl TsigKey {
    /// The `key NAME { algorithm ...; secret "..."; }` statement (same syntax in both).
    pub fn statement(&self) -> String {
        format!("key {} {{ algorithm {}; secret \"{}\"; }}", self.name, self.algorithm, self.secret)
    }
}

pub struct Named {
    pub dir: PathBuf,
    /// The address it answers on (port 53).
    pub addr: String,
    ns_name: String,
    proc: Option<Proc>,
}

impl Named {
    /// Starts `named -g` in `ns`, listening on `addr`, primary for each zone of `zones`
    /// (`(name, extra records)`; an SOA and an NS record are added), updates allowed with
    /// `key`. Its files live in `dir` (created).
    pub fn start(ns: &Netns, dir: &Path, addr: &str, key: &TsigKey, zones: &[(&str, &str)]) -> Result<Named> {
        std::fs::create_dir_all(dir)?;
        let d = dir.to_str().context("path")?;
        let mut conf = format!(
            "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  \
             managed-keys-directory \"{d}\";\n  listen-on port 53 {{ {addr}; }};\n  listen-on-v6 {{ none; }};\n  \
             recursion no;\n  dnssec-validation no;\n  notify no;\n  allow-query {{ any; }};\n}};\n{};\n",
            key.statement()
        );
        for (i, (zone, extra)) in zones.iter().enumerate() {
            let file = format!("{d}/zone{i}.db");
            std::fs::write(
                &file,
                format!(
                    "$TTL 300\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300\n@ IN NS ns.{zone}.\nns.{zone}. IN A {addr}\n{extra}\n"
                ),
            )?;
            conf += &format!(
                "zone \"{zone}\" {{ type primary; file \"{file}\"; allow-update {{ key {}; }}; allow-transfer {{ key {}; }}; }};\n",
                key.name, key.name
            );
        }
        let conf_path = dir.join("named.conf");
        std::fs::write(&conf_path, conf)?;
        let check = std::process::Command::new("named-checkconf").arg(&conf_path).output()?;
        if !check.status.success() {
            bail!("named-checkconf: {}", String::from_utf8_lossy(&check.stdout));
        }
        let mut named = Named { dir: dir.to_path_buf(), addr: addr.to_string(), ns_name: ns.name.clone(), proc: None };
        named.run()?;
        Ok(named)
    }

    /// Starts `named` with the configuration written by [`Named::start`] (again after
    /// [`Named::stop`]: the zones as it left them).
    pub fn run(&mut self) -> Result<()> {
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.ns_name, "named", "-g", "-4", "-n", "1", "-c"])
            .arg(self.dir.join("named.conf"));
        let p = Proc::spawn("named", cmd)?;
        p.wait_stderr_line(Duration::from_secs(20), |l| l.contains("running"))
            .with_context(|| format!("named did not start:\n{}", p.stderr_lines().join("\n")))?;
        self.proc = Some(p);
        Ok(())
    }

    /// Stops `named` (SIGTERM, waited for): its address answers nothing until [`Named::run`].
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut p) = self.proc.take() {
            p.signal(libc::SIGTERM);
            p.wait_exit(Duration::from_secs(10))?;
        }
        Ok(())
    }

    /// `dig +short NAME TYPE` against this server; the answers, one a line (sorted).
    pub fn dig(&self, name: &str, rtype: &str) -> Result<Vec<String>> {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns_name, "dig", "+short", "+norecurse", "+time=2", "+tries=2"])
            .arg(format!("@{}", self.addr))
            .args([name, rtype])
            .output()?;
        if !out.status.success() {
            bail!("dig {name} {rtype}: {}", String::from_utf8_lossy(&out.stdout));
        }
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        v.sort();
        Ok(v)
    }

    /// Waits until `dig NAME TYPE` answers what `want` accepts; the last answer either way.
    pub fn wait_for(
        &self,
        name: &str,
        rtype: &str,
        timeout: Duration,
        want: impl Fn(&[String]) -> bool,
    ) -> Result<Vec<String>> {
        let start = Instant::now();
        loop {
            let got = self.dig(name, rtype)?;
            if want(&got) || start.elapsed() > timeout {
                return Ok(got);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process id of the running `named` (for its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    /// How many records of type `rtype` zone `zone` holds now, read by a zone transfer
    /// signed with `key` (the zones allow transfers to the update key).
    pub fn count(&self, zone: &str, rtype: &str, key: &TsigKey) -> Result<usize> {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns_name, "dig", "+noall", "+answer", "+time=5", "+tries=1", "-y"])
            .arg(format!("{}:{}:{}", key.algorithm, key.name, key.secret))
            .arg(format!("@{}", self.addr))
            .args([zone, "AXFR"])
            .output()?;
        if !out.status.success() {
            bail!("dig AXFR {zone}: {}", String::from_utf8_lossy(&out.stdout));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        // The SOA comes first and last in a transfer; an A/PTR/TXT line once per record.
        Ok(text.lines().filter(|l| l.split_whitespace().nth(3) == Some(rtype)).count())
    }

    /// What named logged (its stderr with `-g`).
    pub fn log(&self) -> String {
        self.proc.as_ref().map(|p| p.stderr_lines().join("\n")).unwrap_or_default()
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal(libc::SIGTERM);
            let _ = p.wait_exit(Duration::from_secs(5));
        }
    }
}
