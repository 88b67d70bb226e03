//! Test support for xdhcpd's integration tests and the `cargo xtask lab`: network namespaces,
//! veth pairs, child processes and raw frames, each cleaned up on drop (also when a test fails).
//!
//! Network rule: traffic only inside namespaces created here, addresses from 198.18.0.0/15.

pub mod bind;
pub mod bpffs;
pub mod compat;
pub mod frames;
pub mod grafana;
pub mod lab;
pub mod migrate;
pub mod netns;
pub mod omshell;
pub mod pair;
pub mod process;
pub mod relay;
pub mod sim;

use std::path::PathBuf;

/// The `xdhcpd` binary under test: `$XDHCPD_BIN`, else `target/{debug,release}/xdhcpd`
/// (whichever is newer). `cargo xtask test` builds it first.
pub fn xdhcpd_bin() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("XDHCPD_BIN") {
        return Ok(PathBuf::from(p));
    }
    let root = workspace_root();
    let candidates = [root.join("target/debug/xdhcpd"), root.join("target/release/xdhcpd")];
    candidates
        .into_iter()
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| anyhow::anyhow!("xdhcpd binary not found: run `cargo build -p dhcp-user` (or `cargo xtask test`) first, or set XDHCPD_BIN"))
}

/// `xdhcpd status --json` of the server behind control socket `socket`.
pub fn control_status(socket: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let out = std::process::Command::new(xdhcpd_bin()?)
        .args(["status", "--json", "--control-socket"])
        .arg(socket)
        .output()?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// Privileged tests need root (namespaces, XDP). Fails loudly rather than passing vacuously;
/// `XDHCPD_SKIP_PRIVILEGED=1` turns them into explicit skips for unprivileged dev runs.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("XDHCPD_SKIP_PRIVILEGED").is_some() {
        eprintln!("SKIPPED: needs root (XDHCPD_SKIP_PRIVILEGED is set)");
        return false;
    }
    panic!("this test needs root (network namespaces, XDP); set XDHCPD_SKIP_PRIVILEGED=1 to skip");
}
