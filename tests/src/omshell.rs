//! Driving ISC `omshell` (the real one, from isc-dhcp-server) inside a namespace: commands on
//! stdin, its printout back, and helpers to read attributes out of that printout.

use crate::netns::Netns;
use anyhow::{Context, Result};
use std::io::Write;
use std::process::Stdio;

/// The OMAPI port the tests configure.
pub const PORT: u16 = 7911;
/// The key name the tests configure.
pub const KEY_NAME: &str = "omkey";
/// Base64 of "secretsecretsecret" (the secret of the dhcpd captures).
pub const KEY_SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0";

/// The dhcpd.conf lines that turn OMAPI on with the test key.
pub fn config_lines() -> String {
    format!(
        "omapi-port {PORT};\nomapi-key {KEY_NAME};\nkey {KEY_NAME} {{ algorithm hmac-md5; secret \"{KEY_SECRET}\"; }}\n"
    )
}

/// Run omshell in `ns`: `server`, `port`, `key NAME SECRET` (if given), `connect`, then
/// `cmds`, one per line. Returns everything omshell printed (stdout and stderr).
pub fn run(ns: &Netns, server: &str, key: Option<(&str, &str)>, cmds: &[&str]) -> Result<String> {
    let mut script = format!("server {server}\nport {PORT}\n");
    if let Some((name, secret)) = key {
        script.push_str(&format!("key {name} {secret}\n"));
    }
    script.push_str("connect\n");
    for c in cmds {
        script.push_str(c);
        script.push('\n');
    }
    let mut child = ns
        .command("timeout")
        .args(["20", "omshell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning omshell")?;
    child.stdin.take().context("omshell stdin")?.write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// [`run`] with the test key.
pub fn run_keyed(ns: &Netns, server: &str, cmds: &[&str]) -> Result<String> {
    run(ns, server, Some((KEY_NAME, KEY_SECRET)), cmds)
}

/// omshell's lines without its `> ` prompts.
pub fn lines(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| {
            let mut l = l;
            while let Some(rest) = l.strip_prefix("> ") {
                l = rest;
            }
            l.trim_end().to_string()
        })
        .collect()
}

/// The last value omshell printed for attribute `name` (`name = value`).
pub fn attr(out: &str, name: &str) -> Option<String> {
    let prefix = format!("{name} = ");
    lines(out).iter().rev().find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
}

/// How omshell prints a 4-byte int received from a server: `00:00:00:02`.
pub fn int(v: u32) -> String {
    hex(&v.to_be_bytes())
}

/// How omshell prints an IPv4 address received from a server: `c6:12:00:64`.
pub fn ip(addr: &str) -> String {
    addr.parse::<std::net::Ipv4Addr>().map(|a| hex(&a.octets())).unwrap_or_default()
}

/// Colon-separated lower-case hex, omshell's format for binary values.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}
