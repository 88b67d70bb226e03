//! Pins in a bpffs: what lets the XDP program outlive the process that attached it.
//!
//! Layout, one directory per interface under the pin root (default `/sys/fs/bpf/xdhcpd`):
//!
//! ```text
//! <root>/<ifname>/link-native | link-skb   the XDP link; the file name records the attach mode
//! <root>/<ifname>/STEERING                 the maps, for operators (`bpftool map dump pinned ...`)
//! <root>/<ifname>/STEERING_ACTIVE
//! <root>/<ifname>/COUNTERS
//! ```
//!
//! The link pin is what keeps the program attached: removing it (with no process holding the
//! link open) detaches the program. The maps are reached through the attached program when a
//! new process adopts it, so a stale map pin can never pair one program with another's maps.

use super::AttachMode;
use std::io;
use std::path::{Path, PathBuf};

/// Where xdhcpd pins its XDP links and maps unless told otherwise.
pub const DEFAULT_PIN_ROOT: &str = "/sys/fs/bpf/xdhcpd";

/// The conventional bpffs mount point; xdhcpd mounts a bpffs there when it is missing.
const SYS_FS_BPF: &str = "/sys/fs/bpf";

/// `statfs(2)` f_type of a bpffs (linux/magic.h).
const BPF_FS_MAGIC: u64 = 0xcafe_4a11;

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{0} is not on a bpffs: mount one (`mount -t bpf bpf DIR`) or choose another --xdp-pin-dir")]
    NotBpffs(PathBuf),
    #[error("mounting a bpffs at {SYS_FS_BPF}: {0}")]
    Mount(io::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PinError + '_ {
    move |source| PinError::Io { path: path.to_path_buf(), source }
}

/// Whether `path` lies on a bpffs.
pub fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return false };
    // SAFETY: `c` is a valid NUL-terminated path; `st` is a plain out-parameter.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as u64 == BPF_FS_MAGIC
    }
}

/// Make `root` a usable pin directory: mount a bpffs at /sys/fs/bpf if `root` is under it and
/// none is mounted (Debian does not mount one by default), then create `root`.
pub fn ensure_bpffs(root: &Path) -> Result<(), PinError> {
    let sys_fs_bpf = Path::new(SYS_FS_BPF);
    if root.starts_with(sys_fs_bpf) && !is_bpffs(sys_fs_bpf) {
        mount_bpffs(sys_fs_bpf)?;
        tracing::info!("mounted a bpffs at {SYS_FS_BPF} for the XDP pins");
        if in_private_mount_namespace() {
            // `ip netns exec` gives each process its own /sys: pins made there disappear with
            // the process, so a restart cannot adopt them.
            tracing::warn!(
                "this process has its own mount namespace (ip netns exec?): pins under {SYS_FS_BPF} will not survive it; use --xdp-pin-dir on a bpffs mounted outside /sys"
            );
        }
    }
    std::fs::create_dir_all(root).map_err(io_err(root))?;
    if !is_bpffs(root) {
        return Err(PinError::NotBpffs(root.to_path_buf()));
    }
    Ok(())
}

/// `mount -t bpf bpf <at>`.
pub fn mount_bpffs(at: &Path) -> Result<(), PinError> {
    std::fs::create_dir_all(at).map_err(io_err(at))?;
    let target = std::ffi::CString::new(at.as_os_str().as_encoded_bytes())
        .map_err(|e| PinError::Mount(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    // SAFETY: NUL-terminated constant strings and a valid path; no data argument.
    let rc = unsafe { libc::mount(c"bpf".as_ptr(), target.as_ptr(), c"bpf".as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(PinError::Mount(io::Error::last_os_error()));
    }
    Ok(())
}

fn in_private_mount_namespace() -> bool {
    match (std::fs::read_link("/proc/self/ns/mnt"), std::fs::read_link("/proc/1/ns/mnt")) {
        (Ok(me), Ok(init)) => me != init,
        _ => false,
    }
}

/// The pin directory of one interface.
pub fn iface_dir(root: &Path, iface: &str) -> PathBuf {
    root.join(iface)
}

/// The link pin's file name for an attach mode.
pub fn link_file(dir: &Path, mode: AttachMode) -> PathBuf {
    dir.join(format!("link-{mode}"))
}

/// The pinned link in `dir`, if any, with the mode it was attached in.
pub fn pinned_link(dir: &Path) -> Option<(PathBuf, AttachMode)> {
    [AttachMode::Native, AttachMode::Skb].into_iter().map(|m| (link_file(dir, m), m)).find(|(p, _)| p.exists())
}

/// Remove every pin in `dir` and the directory. Removing the link pin detaches the program
/// once no process holds the link open. Returns whether there was anything to remove.
pub fn remove_dir(dir: &Path) -> Result<bool, PinError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(PinError::Io { path: dir.to_path_buf(), source: e }),
    };
    for entry in entries {
        let path = entry.map_err(io_err(dir))?.path();
        std::fs::remove_file(&path).map_err(io_err(&path))?;
    }
    std::fs::remove_dir(dir).map_err(io_err(dir))?;
    Ok(true)
}

/// `xdhcpd --detach-xdp`: remove the pins of `ifaces` (every interface under `root` when
/// empty). Returns the interfaces whose program was removed.
pub fn detach_pinned(root: &Path, ifaces: &[String]) -> Result<Vec<String>, PinError> {
    let names: Vec<String> = if ifaces.is_empty() {
        match std::fs::read_dir(root) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(PinError::Io { path: root.to_path_buf(), source: e }),
        }
    } else {
        ifaces.to_vec()
    };
    let mut removed = Vec::new();
    for name in names {
        if remove_dir(&iface_dir(root, &name))? {
            removed.push(name);
        }
    }
    Ok(removed)
}

/// What the kernel says about an XDP link (from `/proc/self/fdinfo`, which aya does not expose).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkFdInfo {
    pub prog_id: u32,
    /// Hex, as the kernel prints it (the SHA of the program's instructions).
    pub prog_tag: String,
    /// 0 once the interface is gone (the link is then defunct).
    pub ifindex: u32,
}

/// Parse a bpf_link fdinfo text, if it is the link `link_id`.
pub fn parse_link_fdinfo(text: &str, link_id: u32) -> Option<LinkFdInfo> {
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(|v| v.trim().to_string()))
    };
    if field("link_id")?.parse::<u32>().ok()? != link_id {
        return None;
    }
    Some(LinkFdInfo {
        prog_id: field("prog_id")?.parse().ok()?,
        prog_tag: field("prog_tag")?,
        ifindex: field("ifindex").and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// The fdinfo of link `link_id`, found among this process's open descriptors (the caller
/// holds the link open).
pub fn link_fdinfo(link_id: u32) -> Option<LinkFdInfo> {
    std::fs::read_dir("/proc/self/fdinfo")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .find_map(|text| parse_link_fdinfo(&text, link_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FDINFO: &str = "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t1061\nlink_type:\txdp\nlink_id:\t7\nprog_tag:\t3b185187f1855c4c\nprog_id:\t42\nifindex:\t5\n";

    #[test]
    fn parses_the_kernels_xdp_link_fdinfo() {
        let info = parse_link_fdinfo(FDINFO, 7).expect("parsed");
        assert_eq!(info, LinkFdInfo { prog_id: 42, prog_tag: "3b185187f1855c4c".into(), ifindex: 5 });
    }

    #[test]
    fn another_links_fdinfo_is_not_taken() {
        assert_eq!(parse_link_fdinfo(FDINFO, 8), None);
        assert_eq!(parse_link_fdinfo("pos:\t0\nflags:\t02\n", 7), None);
    }

    #[test]
    fn a_defunct_link_reports_ifindex_zero() {
        let text = FDINFO.replace("ifindex:\t5", "ifindex:\t0");
        assert_eq!(parse_link_fdinfo(&text, 7).map(|i| i.ifindex), Some(0));
    }

    #[test]
    fn the_link_file_names_its_mode() {
        let dir = Path::new("/sys/fs/bpf/xdhcpd/eth0");
        assert_eq!(link_file(dir, AttachMode::Native), dir.join("link-native"));
        assert_eq!(link_file(dir, AttachMode::Skb), dir.join("link-skb"));
    }
}
