//! A private bpffs for tests that pin XDP programs: mounted at a fresh directory in the
//! test's (host) mount namespace, so pins outlive the `ip netns exec` processes that make
//! them; unmounted (which releases every pin, detaching pinned programs) and removed on drop.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

pub struct Bpffs {
    pub path: PathBuf,
}

impl Bpffs {
    pub fn mount() -> Result<Bpffs> {
        let path = std::env::temp_dir().join(crate::netns::unique("xdhcpd-bpffs-"));
        std::fs::create_dir_all(&path)?;
        let target = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: valid NUL-terminated strings, no data argument.
        let rc = unsafe { libc::mount(c"bpf".as_ptr(), target.as_ptr(), c"bpf".as_ptr(), 0, std::ptr::null()) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            let _ = std::fs::remove_dir(&path);
            bail!("mount -t bpf at {}: {e}", path.display());
        }
        Ok(Bpffs { path })
    }

    /// The pin root to hand to `xdhcpd --xdp-pin-dir`.
    pub fn root(&self) -> PathBuf {
        self.path.join("xdhcpd")
    }

    pub fn exists(&self, rel: &str) -> bool {
        Path::new(&self.root()).join(rel).exists()
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        if let Ok(target) = std::ffi::CString::new(self.path.as_os_str().as_encoded_bytes()) {
            // SAFETY: valid path; lazy unmount so a lingering reader cannot keep it busy.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}
