use anyhow::{Result, bail};
use std::path::PathBuf;
use std::process::Command;

pub fn root() -> PathBuf {
    xdhcpd_tests::workspace_root()
}

/// Print a step header.
pub fn step(what: &str) {
    println!("\x1b[1m==> {what}\x1b[0m");
}

/// Run cargo in the workspace root with the project's tool dir on PATH.
pub fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

/// `cargo` with extra environment variables.
pub fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(root())
        .env("PATH", path_with_tools())
        .envs(env.iter().copied())
        .status()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` when set (relative to the workspace root),
/// else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root().join(d),
        None => root().join("target"),
    }
}

/// PATH with `.tools/bin` (bpf-linker) in front.
pub fn path_with_tools() -> std::ffi::OsString {
    let mut dirs = vec![root().join(".tools/bin")];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// The most recent embedded eBPF object from a dhcp-user build.
pub fn ebpf_object(release: bool) -> Option<PathBuf> {
    let dir = target_dir().join(if release { "release/build" } else { "debug/build" });
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("dhcp-user-"))
        .map(|e| e.path().join("out/dhcp-ebpf"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

/// Run a program, failing if it fails.
pub fn run(program: &std::path::Path, args: &[String]) -> Result<()> {
    let status = Command::new(program).args(args).status()?;
    if !status.success() {
        bail!("{} failed ({status})", program.display());
    }
    Ok(())
}
