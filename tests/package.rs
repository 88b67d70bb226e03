//! The Debian package (`cargo xtask package`): installed on this machine with dpkg, every
//! promised file checked, the man pages rendered, the installed binary started in a network
//! namespace the way the packaged unit's ExecStart starts it (PID 1 here is not systemd, so
//! `systemctl` itself is not exercised), reloaded with the unit's ExecReload, stopped with its
//! KillSignal, then purged and checked gone. A Drop guard purges the package whatever happens.
//!
//! The package is `$XDHCPD_DEB` (set by `cargo xtask test`, which builds it first), else the
//! newest `xdhcpd_*.deb` in `<target>/debian/`. Without one the install test is skipped
//! with a message: run `cargo xtask package`.

use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use xdhcpd_tests::lab::{Lab, default_config};
use xdhcpd_tests::process::Proc;
use xdhcpd_tests::require_root;

/// Every file the package promises (README "Debian package").
const FILES: &[&str] = &[
    "/usr/sbin/xdhcpd",
    "/lib/systemd/system/xdhcpd.service",
    "/usr/share/man/man8/xdhcpd.8.gz",
    "/usr/share/man/man5/xdhcpd-dhcpd.conf.5.gz",
    "/usr/share/doc/xdhcpd/examples/dhcpd.conf",
    "/usr/share/doc/xdhcpd/README.md",
    "/usr/share/doc/xdhcpd/DHCPD_CONF.md",
    "/usr/share/doc/xdhcpd/copyright",
];
const CONF_DIR: &str = "/etc/xdhcpd";
const CONF: &str = "/etc/xdhcpd/dhcpd.conf";
const LEASE_DIR: &str = "/var/lib/xdhcpd";
const RUN_DIR: &str = "/run/xdhcpd";
const UNIT: &str = "/lib/systemd/system/xdhcpd.service";

fn target_dir() -> PathBuf {
    let root = xdhcpd_tests::workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

/// The package under test, if one was built.
fn find_deb() -> Result<Option<PathBuf>> {
    if let Some(p) = std::env::var_os("XDHCPD_DEB") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("XDHCPD_DEB={} does not exist", p.display());
        }
        return Ok(Some(p));
    }
    let Ok(dir) = std::fs::read_dir(target_dir().join("debian")) else { return Ok(None) };
    Ok(dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            n.starts_with("xdhcpd_") && n.ends_with(".deb")
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok()))
}

fn run(cmd: &mut Command) -> Result<(bool, String)> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "xdhcpd"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("installed"))
        .unwrap_or(false)
}

/// Purges the package and removes what the test itself created, also when the test fails.
struct Installed {
    /// /run/xdhcpd did not exist before (else it is left as found).
    created_run_dir: bool,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-P", "xdhcpd"]).env("DEBIAN_FRONTEND", "noninteractive").output();
        let _ = std::fs::remove_file(CONF);
        let _ = std::fs::remove_dir(CONF_DIR);
        if self.created_run_dir {
            let _ = std::fs::remove_dir_all(RUN_DIR);
        }
        let _ = std::fs::remove_dir_all(LEASE_DIR);
    }
}

fn mode(p: &str) -> Result<u32> {
    Ok(std::fs::metadata(p).with_context(|| format!("{p} missing"))?.permissions().mode() & 0o7777)
}

/// The value of `Key=` in the unit.
fn unit_line<'a>(unit: &'a str, key: &str) -> Result<&'a str> {
    unit.lines().find_map(|l| l.strip_prefix(key)).with_context(|| format!("the unit has no {key}"))
}

#[test]
fn package_installs_runs_and_purges_clean() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let Some(deb) = find_deb()? else {
        eprintln!(
            "SKIPPED: no xdhcpd_*.deb in {}: run `cargo xtask package` first (`cargo xtask test`, \
             which CI runs, builds it before the tests)",
            target_dir().join("debian").display()
        );
        return Ok(());
    };
    if installed() || Path::new(CONF_DIR).exists() || Path::new(LEASE_DIR).exists() {
        bail!(
            "xdhcpd is installed here or {CONF_DIR} or {LEASE_DIR} exists: the test does not touch an existing installation"
        );
    }
    // The unit's control socket is the binary's default one: no other xdhcpd may be serving
    // it (a stale socket file left by a killed run is replaced, as xdhcpd replaces it).
    let socket = format!("{RUN_DIR}/control.sock");
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        bail!("an xdhcpd is running with the default control socket {socket}: stop it first");
    }
    let created_run_dir = !Path::new(RUN_DIR).exists();
    let guard = Installed { created_run_dir };

    // 1. Install.
    let (ok, text) = run(Command::new("dpkg").arg("-i").arg(&deb).env("DEBIAN_FRONTEND", "noninteractive"))?;
    assert!(ok, "dpkg -i {}:\n{text}", deb.display());

    // 2. Every promised file, listed by dpkg and present; the directories.
    let (ok, listing) = run(Command::new("dpkg").args(["-L", "xdhcpd"]))?;
    assert!(ok, "{listing}");
    let listed: BTreeSet<&str> = listing.lines().collect();
    for f in FILES.iter().chain(&[CONF_DIR]) {
        assert!(listed.contains(f), "{f} not in dpkg -L:\n{listing}");
        assert!(Path::new(f).exists(), "{f} listed but missing");
    }
    assert_eq!(mode("/usr/sbin/xdhcpd")?, 0o755);
    assert!(Path::new(LEASE_DIR).is_dir(), "postinst did not create {LEASE_DIR}");
    assert_eq!(mode(LEASE_DIR)?, 0o750, "{LEASE_DIR}");
    assert!(!Path::new(CONF).exists(), "the package must not install {CONF}");
    let (ok, text) = run(Command::new("/usr/sbin/xdhcpd").arg("--version"))?;
    assert!(ok && text.starts_with("xdhcpd "), "{text}");

    // 3. The man pages render without a warning.
    for page in ["/usr/share/man/man8/xdhcpd.8.gz", "/usr/share/man/man5/xdhcpd-dhcpd.conf.5.gz"] {
        if Path::new("/usr/bin/groff").exists() {
            let (ok, text) = run(Command::new("sh").args(["-c", &format!("zcat {page} | groff -man -Tutf8 -ww -z")]))?;
            assert!(ok && text.trim().is_empty(), "groff on {page}:\n{text}");
        } else {
            eprintln!("groff not installed: {page} not rendered");
        }
        if Path::new("/usr/bin/man").exists() {
            let (ok, text) = run(Command::new("man").args(["-l", page]).env("MANPAGER", "cat").env("MANWIDTH", "80"))?;
            assert!(ok && text.contains("xdhcpd"), "man -l {page}:\n{text}");
        }
    }

    // 4. The shipped example configuration checks.
    let (ok, text) =
        run(Command::new("/usr/sbin/xdhcpd").args(["--check", "-c", "/usr/share/doc/xdhcpd/examples/dhcpd.conf"]))?;
    assert!(ok, "xdhcpd --check on the example:\n{text}");

    // 5. The installed unit: systemd's parser accepts it without a word (systemd checks that
    //    its commands exist, here the installed binary).
    let unit = std::fs::read_to_string(UNIT)?;
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let (ok, text) = run(Command::new("systemd-analyze").args(["verify", UNIT]))?;
        assert!(ok && text.trim().is_empty(), "systemd-analyze verify {UNIT}:\n{text}");
    } else {
        eprintln!("systemd-analyze not installed: {UNIT} not verified");
    }
    let start_pre = unit_line(&unit, "ExecStartPre=")?;
    let start = unit_line(&unit, "ExecStart=")?;
    let reload = unit_line(&unit, "ExecReload=")?;
    assert_eq!(unit_line(&unit, "KillSignal=")?, "SIGTERM");
    for cmd in [start_pre, start] {
        assert!(cmd.starts_with("/usr/sbin/xdhcpd "), "{cmd}");
        assert!(cmd.contains(&format!("-c {CONF}")), "{cmd}");
    }
    assert!(start.contains(&format!("-l {LEASE_DIR}/dhcpd.leases")), "{start}");
    assert!(start.contains(&format!("--control-socket {RUN_DIR}/control.sock")), "{start}");

    // 6. Run it as the unit would: the administrator's configuration in /etc/xdhcpd, the
    //    RuntimeDirectory created, ExecStartPre then ExecStart, in a namespace whose only
    //    broadcast interface is a veth on 198.18.0.0/24 (ExecStart names no interface).
    let lab = Lab::new(&default_config(600))?;
    std::fs::write(CONF, default_config(600))?;
    if created_run_dir {
        std::fs::create_dir(RUN_DIR)?;
        std::fs::set_permissions(RUN_DIR, std::fs::Permissions::from_mode(0o750))?;
    }
    let argv = |cmd: &str| cmd.split_whitespace().map(String::from).collect::<Vec<_>>();
    let pre = argv(start_pre);
    let (ok, text) = run(lab.srv.command(&pre[0]).args(&pre[1..]))?;
    assert!(ok, "ExecStartPre {start_pre}:\n{text}");
    let main = argv(start);
    let mut cmd = lab.srv.command(&main[0]);
    cmd.args(&main[1..]);
    let mut server = Proc::spawn("xdhcpd (installed)", cmd)?;
    let ready = server.wait_line(Duration::from_secs(30), |l| l.contains("\"ready\""))?;
    let ready: serde_json::Value = serde_json::from_str(&ready)?;
    assert_eq!(ready["ifaces"], serde_json::json!([lab.srv_if]), "{ready}");
    // The release binary embeds the XDP program: it attached (generic or native) to the veth.
    let xdp = &ready["xdp"];
    let attached = match xdp {
        serde_json::Value::Null => false,
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
        _ => true,
    };
    assert!(attached, "no XDP: {ready}");
    eprintln!("installed xdhcpd ready: {ready}");

    // A client gets a lease, recorded in the packaged lease directory.
    let ip = lab.udhcpc_once(&lab.cli_if)?;
    assert!(ip.starts_with("198.18.0."), "{ip}");
    eprintln!("client bound {ip}");
    let leases = std::fs::read_to_string(format!("{LEASE_DIR}/dhcpd.leases"))?;
    assert!(leases.contains(&format!("lease {ip} {{")), "{ip} not in {LEASE_DIR}/dhcpd.leases:\n{leases}");
    // The installed CLI reaches it on the unit's control socket (the binary's default).
    let (ok, text) = run(Command::new("/usr/sbin/xdhcpd").args(["status", "--json"]))?;
    let status: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("xdhcpd status --json (ok {ok}):\n{text}"))?;
    assert!(status["pools"].as_array().is_some_and(|p| !p.is_empty()), "{status}");

    // ExecReload, as systemd runs it (with $MAINPID), reloads.
    let (ok, text) = run(Command::new("sh").args(["-c", reload]).env("MAINPID", server.pid().to_string()))?;
    assert!(ok, "{reload}: {text}");
    server.wait_stderr_line(Duration::from_secs(10), |l| l.contains("configuration reloaded"))?;

    // KillSignal=SIGTERM: a clean stop.
    server.signal(libc::SIGTERM);
    server.wait_line(Duration::from_secs(10), |l| l.contains("\"stopped\""))?;
    let status = server.wait_exit(Duration::from_secs(10))?;
    assert!(status.success(), "xdhcpd exited {status}");
    drop(lab);
    assert!(!Path::new(&socket).exists(), "{socket} left after a clean stop");
    if created_run_dir {
        std::fs::remove_dir_all(RUN_DIR)?; // systemd removes its RuntimeDirectory at stop
    }

    // 7. Remove (not purge): the package's files go, the leases stay.
    let (ok, text) = run(Command::new("dpkg").args(["-r", "xdhcpd"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    assert!(ok, "dpkg -r xdhcpd:\n{text}");
    for f in FILES.iter().filter(|f| !f.contains("/doc/")) {
        assert!(!Path::new(f).exists(), "{f} left after dpkg -r");
    }
    let kept = std::fs::read_to_string(format!("{LEASE_DIR}/dhcpd.leases"))?;
    assert!(kept.contains(&format!("lease {ip} {{")), "dpkg -r must keep the leases:\n{kept}");

    // 8. Purge: every packaged file and the lease directory are gone; the configuration the
    //    administrator wrote stays (it is not the package's).
    let (ok, text) = run(Command::new("dpkg").args(["-P", "xdhcpd"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    assert!(ok, "dpkg -P xdhcpd:\n{text}");
    assert!(!installed(), "still installed after purge");
    for f in FILES.iter().chain(&["/usr/share/doc/xdhcpd", LEASE_DIR]) {
        assert!(!Path::new(f).exists(), "{f} left after purge");
    }
    assert!(Path::new(CONF).is_file(), "purge removed the administrator's {CONF}");
    let left: Vec<_> = std::fs::read_dir(CONF_DIR)?.filter_map(|e| e.ok().map(|e| e.file_name())).collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("dhcpd.conf")],
        "{CONF_DIR} holds more than the administrator's file"
    );
    drop(guard);
    assert!(!Path::new(CONF_DIR).exists());
    Ok(())
}

/// `<flags, subcommands>` of one `--help` text: every `-x` and `--long` word, and the names
/// under "Commands:".
fn help_items(help: &str) -> (BTreeSet<String>, Vec<String>) {
    let mut flags = BTreeSet::new();
    let mut subs = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            in_commands = line == "Commands:";
            continue;
        }
        if in_commands {
            // "  name   text" (a wrapped or long-help description is indented deeper).
            if line.starts_with("  ")
                && !line.starts_with("   ")
                && let Some(name) = line.split_whitespace().next()
            {
                subs.push(name.to_string());
            }
            continue;
        }
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        // Only the option's own column: "-c, --config <CONFIG>  text".
        let head = t.split("  ").next().unwrap_or(t);
        for w in head.split([' ', ',', '=', '[', '<']) {
            let w = w.trim_end_matches(['.', ')', ']']);
            let ok = (w.starts_with("--") && w.len() > 2) || (w.len() == 2 && w.starts_with('-'));
            if ok {
                flags.insert(w.to_string());
            }
        }
    }
    (flags, subs)
}

/// The man page as plain text: `\-` is `-`, font escapes removed.
fn man_text(src: &str) -> String {
    let mut s = src.replace("\\-", "-");
    for f in ["\\fB", "\\fI", "\\fR", "\\fP"] {
        s = s.replace(f, "");
    }
    s
}

/// `flag` appears as a whole word (not as the start of a longer flag).
fn has_flag(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + flag.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// xdhcpd(8) is kept by hand: every flag and subcommand of `xdhcpd --help` and of each
/// subcommand's `--help` must be in it. Needs neither root nor the package.
#[test]
fn man_page_lists_every_flag_and_subcommand() -> Result<()> {
    let bin = xdhcpd_tests::xdhcpd_bin()?;
    let page = man_text(&std::fs::read_to_string(xdhcpd_tests::workspace_root().join("contrib/man/xdhcpd.8"))?);
    let help = |args: &[&str]| -> Result<String> {
        let out = Command::new(&bin).args(args).arg("--help").output()?;
        assert!(out.status.success(), "xdhcpd {args:?} --help failed");
        Ok(String::from_utf8(out.stdout)?)
    };
    let (flags, subs) = help_items(&help(&[])?);
    assert!(flags.contains("--config") && flags.contains("-c") && flags.contains("--xdp-mode"), "{flags:?}");
    assert!(subs.iter().any(|s| s == "status") && subs.iter().any(|s| s == "leases"), "{subs:?}");
    let mut missing = Vec::new();
    for f in &flags {
        if !has_flag(&page, f) {
            missing.push(format!("xdhcpd {f}"));
        }
    }
    for sub in &subs {
        if !page.contains(&format!("\n.B {sub}")) {
            missing.push(format!("subcommand {sub}"));
        }
        if sub == "help" {
            continue;
        }
        let (sub_flags, _) = help_items(&help(&[sub])?);
        for f in &sub_flags {
            if !has_flag(&page, f) {
                missing.push(format!("xdhcpd {sub} {f}"));
            }
        }
    }
    assert!(missing.is_empty(), "missing from contrib/man/xdhcpd.8: {missing:?}");
    // Both pages name the version being packaged.
    let version = format!("\"xdhcpd {}\"", env!("CARGO_PKG_VERSION"));
    for page in ["xdhcpd.8", "xdhcpd-dhcpd.conf.5"] {
        let src = std::fs::read_to_string(xdhcpd_tests::workspace_root().join("contrib/man").join(page))?;
        let th = src.lines().find(|l| l.starts_with(".TH ")).context(".TH")?;
        assert!(th.contains(&version), "{page}: {th} does not name {version}");
    }
    Ok(())
}
