//! Idempotent toolchain and package setup. A second run only checks and takes seconds.

use crate::util::{root, step};
use anyhow::{Context, Result, bail};
use std::process::Command;

const BPF_LINKER_VERSION: &str = "0.13.0";
/// Debian packages the tests use: real DHCP peers and clients, perfdhcp, tools.
const TEST_PACKAGES: &[&str] = &[
    "iproute2",
    "isc-dhcp-server",
    "isc-dhcp-client",
    "udhcpc",
    "kea-dhcp4-server",
    "kea-admin",
    "tcpdump",
    "time",
    "systemd",
    // Dynamic DNS tests: BIND 9 (`named`, `named-checkconf`) and `dig`.
    "bind9",
    "bind9-dnsutils",
];

/// Debian packages `cargo xtask lab` runs: `ip` (namespaces, veth, bridge, macvlan),
/// `udhcpc` (the clients) and `timeout` (coreutils, essential: always there).
pub const LAB_PACKAGES: &[&str] = &["iproute2", "udhcpc"];
/// `cargo xtask lab --migrate`: the lab's, and the ISC dhcpd pair it replaces.
pub const MIGRATE_PACKAGES: &[&str] = &["iproute2", "udhcpc", "isc-dhcp-server"];

/// What a command needs beyond the toolchain.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The toolchain only (nightly rust-src, bpf-linker).
    Toolchain,
    /// The toolchain and the lab's Debian packages.
    Lab,
    /// The toolchain, the lab's Debian packages and ISC dhcpd (`lab --migrate`).
    Migrate,
    /// The toolchain, every Debian package the tests use and the metrics test's parser.
    Tests,
}

pub fn setup(needs: Needs) -> Result<()> {
    rust_src()?;
    bpf_linker()?;
    match needs {
        Needs::Toolchain => {}
        Needs::Lab => apt(LAB_PACKAGES)?,
        Needs::Migrate => apt(MIGRATE_PACKAGES)?,
        Needs::Tests => {
            apt(TEST_PACKAGES)?;
            python_parser()?;
        }
    }
    Ok(())
}

/// The Prometheus text-format parser the metrics test checks our output with.
fn python_parser() -> Result<()> {
    let have = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if have {
        return Ok(());
    }
    step("installing the Python prometheus-client (the metrics test's reference parser)");
    let ok = Command::new("python3").args(["-m", "pip", "install", "-q", "prometheus-client"]).status()?.success();
    if !ok {
        bail!("pip install prometheus-client failed");
    }
    Ok(())
}

fn nightly_sysroot() -> Result<String> {
    let out = Command::new("rustc")
        .args(["+nightly", "--print", "sysroot"])
        .output()
        .context("running rustc +nightly (is rustup installed?)")?;
    if !out.status.success() {
        bail!("no nightly toolchain: the XDP program needs one (`rustup toolchain install nightly`)");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn rust_src() -> Result<()> {
    let sysroot = nightly_sysroot()?;
    if std::path::Path::new(&sysroot).join("lib/rustlib/src/rust/library/core").exists() {
        return Ok(());
    }
    step("adding rust-src to the nightly (needed for -Z build-std=core)");
    let ok =
        Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]).status()?.success();
    if !ok {
        bail!("`rustup component add rust-src --toolchain nightly` failed");
    }
    Ok(())
}

fn bpf_linker() -> Result<()> {
    let tools = root().join(".tools");
    let bin = tools.join("bin/bpf-linker");
    if bin.is_file() {
        let v = Command::new(&bin).arg("--version").output();
        if v.map(|o| String::from_utf8_lossy(&o.stdout).contains(BPF_LINKER_VERSION)).unwrap_or(false) {
            return Ok(());
        }
    }
    // bpf-linker must use an LLVM at least as new as rustc's: build it against the nightly's
    // own shared libLLVM (Debian's LLVM is too old and no prebuilt binary can be downloaded).
    let sysroot = nightly_sysroot()?;
    let lib_dir = format!("{sysroot}/lib");
    let llvm = std::fs::read_dir(&lib_dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("libLLVM") && n.contains("-rust-") && n.ends_with(".so"))
        .with_context(|| format!("no libLLVM-*-rust-*.so in {lib_dir}"))?;
    let lib_name = llvm.trim_start_matches("lib").trim_end_matches(".so").to_string();
    let major = lib_name.trim_start_matches("LLVM-").split(['-', '.']).next().unwrap_or("22").to_string();
    step(&format!("building bpf-linker {BPF_LINKER_VERSION} against the nightly's {lib_name} (about a minute)"));
    let rustflags = format!("-L {lib_dir} -l dylib={lib_name} -C link-arg=-Wl,-rpath,{lib_dir}");
    let status = Command::new("cargo")
        .args([
            "+nightly",
            "install",
            "bpf-linker",
            "--version",
            BPF_LINKER_VERSION,
            "--locked",
            "--no-default-features",
        ])
        .args(["--features", &format!("llvm-{major},no-llvm-linking"), "--root"])
        .arg(&tools)
        .env("RUSTFLAGS", rustflags)
        .status()?;
    if !status.success() {
        bail!("building bpf-linker failed; see the output above (recipe: ../shared/reference/TOOLCHAIN.md)");
    }
    Ok(())
}

fn apt(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", p]).output();
            !out.map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed")).unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("missing Debian packages {missing:?}; run as root or `sudo apt-get install {}`", missing.join(" "));
    }
    step(&format!("installing Debian packages: {}", missing.join(" ")));
    let ok = Command::new("apt-get").args(["-o", "DPkg::Lock::Timeout=600", "update"]).status()?.success();
    if !ok {
        bail!("apt-get update failed");
    }
    // Another apt run (unattended upgrades, a second setup) holds the dpkg lock for a while:
    // wait for it, bounded, rather than failing at once.
    let ok = Command::new("apt-get")
        .args(["-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()?
        .success();
    if !ok {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    // The packages' own services would compete for port 67 and are not used by the project.
    for svc in ["isc-dhcp-server", "kea-dhcp4-server"] {
        let _ = Command::new("systemctl").args(["disable", "--now", svc]).output();
    }
    Ok(())
}
