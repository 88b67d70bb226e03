//! Builds the XDP program (dhcp-ebpf) with aya-build and embeds it in the binary.
//!
//! When the eBPF toolchain is missing (no nightly with rust-src, no bpf-linker), the build still
//! succeeds: an empty object is embedded, `xdhcpd` reports that XDP is unavailable and runs in
//! the pure-userspace mode. `cargo xtask setup` installs the toolchain.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

fn main() -> anyhow::Result<()> {
    println!("cargo:rustc-check-cfg=cfg(xdp_unavailable)");
    println!("cargo:rerun-if-env-changed=XDHCPD_NO_XDP");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let ebpf_dir = root.join("dhcp-ebpf");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let object = out_dir.join("dhcp-ebpf");

    // The project-local toolchain dir that `cargo xtask setup` fills.
    let tools_bin = root.join(".tools").join("bin");
    let path = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = vec![tools_bin.clone()];
    dirs.extend(env::split_paths(&path));
    let new_path = env::join_paths(dirs)?;
    println!("cargo:rerun-if-changed={}", tools_bin.join("bpf-linker").display());
    println!("cargo:rerun-if-changed={}", root.join("dhcp-common").join("src").display());

    let missing = if env::var_os("XDHCPD_NO_XDP").is_some() {
        Some("XDHCPD_NO_XDP is set".to_string())
    } else {
        toolchain_missing(&new_path)
    };
    if let Some(why) = missing {
        println!("cargo:warning=building xdhcpd WITHOUT its XDP program ({why}); run `cargo xtask setup`");
        std::fs::write(&object, [])?;
        println!("cargo:rustc-cfg=xdp_unavailable");
        return Ok(());
    }

    // SAFETY: build scripts are single-threaded at this point.
    unsafe {
        env::set_var("PATH", &new_path);
        // aya-build forwards the nested cargo's stderr as cargo warnings: keep only real
        // diagnostics, not a "Compiling ..." line per dependency.
        env::set_var("CARGO_TERM_QUIET", "true");
    }
    // aya-build runs `cargo build --package dhcp-ebpf` in the current directory; dhcp-ebpf is
    // its own workspace (BPF target, nightly, build-std), so run it from there.
    env::set_current_dir(&ebpf_dir)?;
    let ebpf_dir_str = ebpf_dir.to_string_lossy().into_owned();
    aya_build::build_ebpf(
        [aya_build::Package { name: "dhcp-ebpf", root_dir: &ebpf_dir_str, ..Default::default() }],
        aya_build::Toolchain::default(),
    )?;
    Ok(())
}

/// Why the eBPF toolchain cannot be used, or `None` if it can.
fn toolchain_missing(path: &std::ffi::OsStr) -> Option<String> {
    let linker = env::split_paths(path).map(|d| d.join("bpf-linker")).find(|p| p.is_file());
    if linker.is_none() {
        return Some("bpf-linker not found".into());
    }
    let sysroot = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match sysroot {
        None => Some("no nightly toolchain".into()),
        Some(s) if !Path::new(&s).join("lib/rustlib/src/rust/library/core").exists() => {
            Some("the nightly has no rust-src".into())
        }
        Some(_) => None,
    }
}
