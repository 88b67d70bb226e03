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

/// Stand-in for "another build's program": a two-instruction XDP program (`return
/// XDP_PASS`) loaded with the raw bpf(2) syscall, attached to `iface` through a bpf_link in
/// generic mode and pinned at `link_path`, as an earlier xdhcpd of a different build would
/// have left it. Its tag differs from xdhcpd's, so xdhcpd must replace it. The pin keeps it
/// attached; our descriptors are closed before returning.
pub fn pin_foreign_xdp(iface: &str, link_path: &Path) -> Result<()> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_OBJ_PIN: libc::c_long = 6;
    const BPF_LINK_CREATE: libc::c_long = 28;
    const BPF_PROG_TYPE_XDP: u32 = 6;
    const BPF_XDP: u32 = 37;
    const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
    // mov64 r0, 2 (XDP_PASS); exit
    let insns: [u8; 16] = [0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let license = c"GPL";
    let ifname = std::ffi::CString::new(iface)?;
    let path = std::ffi::CString::new(link_path.as_os_str().as_encoded_bytes())?;
    let put32 = |a: &mut [u8; 128], off: usize, v: u32| a[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    let put64 = |a: &mut [u8; 128], off: usize, v: u64| a[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    let bpf = |cmd: libc::c_long, attr: &mut [u8; 128]| -> Result<i32> {
        // SAFETY: `attr` is a zero-padded bpf_attr of 128 bytes whose pointers outlive the call.
        let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len() as u32) };
        if rc < 0 {
            bail!("bpf({cmd}): {}", std::io::Error::last_os_error());
        }
        Ok(rc as i32)
    };
    // SAFETY: valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(ifname.as_ptr()) };
    if ifindex == 0 {
        bail!("no interface {iface}");
    }
    let mut load = [0u8; 128];
    put32(&mut load, 0, BPF_PROG_TYPE_XDP);
    put32(&mut load, 4, 2);
    put64(&mut load, 8, insns.as_ptr() as u64);
    put64(&mut load, 16, license.as_ptr() as u64);
    put32(&mut load, 68, BPF_XDP); // expected_attach_type, as aya loads XDP programs
    let prog = bpf(BPF_PROG_LOAD, &mut load)?;
    let mut create = [0u8; 128];
    put32(&mut create, 0, prog as u32);
    put32(&mut create, 4, ifindex);
    put32(&mut create, 8, BPF_XDP);
    put32(&mut create, 12, XDP_FLAGS_SKB_MODE);
    let link = bpf(BPF_LINK_CREATE, &mut create);
    let pinned = link.and_then(|link| {
        let mut pin = [0u8; 128];
        put64(&mut pin, 0, path.as_ptr() as u64);
        put32(&mut pin, 8, link as u32);
        let r = bpf(BPF_OBJ_PIN, &mut pin);
        // SAFETY: our own descriptor.
        unsafe { libc::close(link) };
        r
    });
    // SAFETY: our own descriptor.
    unsafe { libc::close(prog) };
    pinned.map(|_| ())
}
