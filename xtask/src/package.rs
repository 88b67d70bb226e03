//! `cargo xtask package`: a Debian package of xdhcpd, assembled in a staging directory and
//! built with `dpkg-deb --build` (no extra tool to install). Output:
//! `<target>/debian/xdhcpd_<version>_<arch>.deb`.
//!
//! What it installs (the test `tests/package.rs` checks each path):
//! - `/usr/sbin/xdhcpd`: the release binary, the XDP program embedded;
//! - `/lib/systemd/system/xdhcpd.service`: `contrib/xdhcpd.service` with the binary at
//!   `/usr/sbin` (the unit reads `/etc/xdhcpd/dhcpd.conf`, writes
//!   `/var/lib/xdhcpd/dhcpd.leases`, the binary's defaults);
//! - `/etc/xdhcpd/` (empty: the configuration is the administrator's) and, created by
//!   postinst, `/var/lib/xdhcpd/` (deleted on purge);
//! - `/usr/share/doc/xdhcpd/`: README.md, DHCPD_CONF.md, copyright,
//!   `examples/dhcpd.conf`;
//! - man pages `xdhcpd(8)` and `xdhcpd-dhcpd.conf(5)` from `contrib/man/`.

use crate::util::{root, step, target_dir};
use anyhow::{Context, Result, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const UNIT_PATH: &str = "lib/systemd/system/xdhcpd.service";

/// Build the package from an existing release binary (`build_release` first); returns its path.
pub fn package() -> Result<PathBuf> {
    let version = env!("CARGO_PKG_VERSION");
    let arch = output(Command::new("dpkg").arg("--print-architecture"))?;
    let name = format!("xdhcpd_{version}_{arch}");
    let out_dir = target_dir().join("debian");
    let stage = out_dir.join(&name);
    step(&format!("assembling {}", stage.display()));
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    let r = root();
    let bin = target_dir().join("release/xdhcpd");
    if !bin.is_file() {
        bail!("{} missing: the release build did not produce it", bin.display());
    }
    put(&stage, "usr/sbin/xdhcpd", &std::fs::read(&bin)?, 0o755)?;
    // Debug information out (the release profile keeps it): 70 MB down to a few. The XDP
    // program is data in the binary and stays.
    let staged = stage.join("usr/sbin/xdhcpd");
    match Command::new("strip").arg("--strip-debug").arg(&staged).status() {
        Ok(s) if s.success() => {}
        other => {
            println!("    WARNING: strip --strip-debug failed ({other:?}): the binary keeps its debug information")
        }
    }
    let unit = std::fs::read_to_string(r.join("contrib/xdhcpd.service"))?;
    put(&stage, UNIT_PATH, packaged_unit(&unit)?.as_bytes(), 0o644)?;
    dir(&stage.join("etc/xdhcpd"))?;
    let doc = "usr/share/doc/xdhcpd";
    put(&stage, &format!("{doc}/README.md"), &std::fs::read(r.join("README.md"))?, 0o644)?;
    put(&stage, &format!("{doc}/DHCPD_CONF.md"), &std::fs::read(r.join("docs/DHCPD_CONF.md"))?, 0o644)?;
    put(&stage, &format!("{doc}/examples/dhcpd.conf"), &std::fs::read(r.join("contrib/dhcpd.conf.example"))?, 0o644)?;
    put(&stage, &format!("{doc}/copyright"), copyright().as_bytes(), 0o644)?;
    for (src, dst) in [("xdhcpd.8", "man8/xdhcpd.8.gz"), ("xdhcpd-dhcpd.conf.5", "man5/xdhcpd-dhcpd.conf.5.gz")] {
        let page = std::fs::read(r.join("contrib/man").join(src))?;
        put(&stage, &format!("usr/share/man/{dst}"), &gzip(&page)?, 0o644)?;
    }
    let debian = stage.join("DEBIAN");
    for script in ["postinst", "prerm", "postrm"] {
        put(&stage, &format!("DEBIAN/{script}"), &std::fs::read(r.join("contrib/debian").join(script))?, 0o755)?;
    }
    let size_kib = du_kib(&stage)?;
    let control = format!(
        "Package: xdhcpd\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: xdhcpd developers <xdhcpd@localhost>\n\
         Installed-Size: {size_kib}\n\
         Depends: libc6 (>= 2.34), libgcc-s1\n\
         Section: net\n\
         Priority: optional\n\
         Description: DHCPv4 failover server accelerated with XDP\n \
         xdhcpd reads ISC dhcpd.conf and dhcpd.leases and speaks dhcpd 4.4's failover\n \
         protocol, so it can replace either server of a dhcpd failover pair. An XDP\n \
         program drops the DISCOVERs the failover partner owns at the NIC.\n"
    );
    put(&stage, "DEBIAN/control", control.as_bytes(), 0o644)?;
    std::fs::set_permissions(&debian, std::fs::Permissions::from_mode(0o755))?;
    let deb = out_dir.join(format!("{name}.deb"));
    step(&format!("dpkg-deb --build {}", deb.display()));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&stage)
        .arg(&deb)
        .status()
        .context("running dpkg-deb (package dpkg)")?;
    if !status.success() {
        bail!("dpkg-deb --build failed ({status})");
    }
    println!("    {}", deb.display());
    Ok(deb)
}

/// The unit as packaged: the binary is /usr/sbin/xdhcpd, the install comment is dropped.
pub fn packaged_unit(unit: &str) -> Result<String> {
    if !unit.contains("/usr/local/sbin/xdhcpd") {
        bail!("contrib/xdhcpd.service no longer names /usr/local/sbin/xdhcpd: update xtask/src/package.rs");
    }
    let body: Vec<&str> = unit.lines().skip_while(|l| l.starts_with('#')).collect();
    let head = "# systemd unit for xdhcpd, from the Debian package (see xdhcpd(8)).\n\
                # Configuration /etc/xdhcpd/dhcpd.conf, leases /var/lib/xdhcpd/dhcpd.leases.\n\
                # Enable: systemctl enable --now xdhcpd. Reload: systemctl reload xdhcpd.\n";
    let body = body.join("\n").replace("/usr/local/sbin/xdhcpd", "/usr/sbin/xdhcpd").replace(
        "Documentation=file:///usr/share/doc/xdhcpd/README.md",
        "Documentation=man:xdhcpd(8) man:xdhcpd-dhcpd.conf(5) file:///usr/share/doc/xdhcpd/README.md",
    );
    Ok(head.to_string() + &body + "\n")
}

fn copyright() -> String {
    let license = env!("CARGO_PKG_LICENSE");
    format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: xdhcpd\n\n\
         Files: *\n\
         Copyright: the xdhcpd developers\n\
         License: {license}\n"
    )
}

fn dir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p)?;
    // Every directory of the staging tree is 0755 whatever the umask.
    let mut d = Some(p);
    while let Some(x) = d {
        if x.file_name().is_none() || x.ends_with("debian") {
            break;
        }
        std::fs::set_permissions(x, std::fs::Permissions::from_mode(0o755))?;
        d = x.parent();
    }
    Ok(())
}

fn put(stage: &Path, rel: &str, bytes: &[u8], mode: u32) -> Result<()> {
    let p = stage.join(rel);
    dir(p.parent().context("path")?)?;
    std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9n"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running gzip")?;
    child.stdin.take().context("stdin")?.write_all(bytes)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("gzip failed");
    }
    Ok(out.stdout)
}

fn du_kib(p: &Path) -> Result<u64> {
    let out = output(Command::new("du").args(["-sk", "--exclude=DEBIAN"]).arg(p))?;
    out.split_whitespace().next().and_then(|n| n.parse().ok()).context("du output")
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
