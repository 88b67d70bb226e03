//! `cargo xtask fuzz`: the cargo-fuzz targets in `fuzz/` (packet path, XDP classifier,
//! dhcpd.conf parser, failover decoder, lease file reader, peer link layer), each for a
//! bounded time.

use crate::util::{path_with_tools, root, step};
use anyhow::{Result, bail};
use std::process::Command;

pub const TARGETS: &[&str] =
    &["dhcp_packet", "frame_classify", "config_parse", "failover_decode", "lease_file", "link_guard", "relationship"];

fn ensure_cargo_fuzz() -> Result<()> {
    let bin = root().join(".tools/bin/cargo-fuzz");
    if bin.is_file() {
        return Ok(());
    }
    step("installing cargo-fuzz into .tools (once)");
    let ok = Command::new("cargo")
        .args(["install", "cargo-fuzz", "--locked", "--root"])
        .arg(root().join(".tools"))
        .status()?
        .success();
    if !ok {
        bail!("cargo install cargo-fuzz failed");
    }
    Ok(())
}

pub fn run(secs: u64, only: Option<&str>) -> Result<()> {
    ensure_cargo_fuzz()?;
    for t in TARGETS.iter().filter(|t| only.is_none_or(|o| o == **t)) {
        step(&format!("fuzzing {t} for {secs} s"));
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", t, "--", &format!("-max_total_time={secs}"), "-rss_limit_mb=2048"])
            .current_dir(root())
            .env("PATH", path_with_tools())
            // The fuzz build never needs the XDP program.
            .env("XDHCPD_NO_XDP", "1")
            .status()?;
        if !status.success() {
            bail!("fuzz target {t} found a failure (see fuzz/artifacts/{t}/)");
        }
    }
    Ok(())
}
