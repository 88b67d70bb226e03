//! The XDP fast path, userspace side: load the embedded program, attach it to interfaces,
//! publish the steering configuration, read the per-CPU counters.
//!
//! The decision itself lives in `dhcp_common::decide`; this module only moves configuration
//! in and counters out.

pub mod liveness;
pub mod pin;

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, IterableMap, Map, MapData, PerCpuArray},
    programs::{
        ProgramError, TestRun, TestRunOptions, Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        xdp::{XdpLink, XdpLinkId},
    },
};
use dhcp_common::{
    Steering,
    maps::{COUNTERS_MAP, PROGRAM_NAME, STEERING_ACTIVE_MAP, STEERING_MAP, counter},
};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The XDP object built by `build.rs`; empty when the eBPF toolchain was missing.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/dhcp-ebpf"));

/// Whether this binary carries an XDP program.
pub fn available() -> bool {
    !OBJECT.is_empty()
}

#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(
        "this xdhcpd was built without its XDP program (eBPF toolchain missing at build time); run `cargo xtask setup` and rebuild, or use --xdp-mode off"
    )]
    NotBuiltIn,
    #[error("loading the XDP object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("XDP program `{0}` missing from the object")]
    MissingProgram(&'static str),
    #[error("map `{0}` missing from the object")]
    MissingMap(&'static str),
    #[error("map `{name}`: {source}")]
    Map { name: &'static str, source: aya::maps::MapError },
    #[error("verifier rejected the XDP program: {0}")]
    Verify(ProgramError),
    #[error(
        "attaching XDP to {iface} in {mode} mode: {source} (try --xdp-mode skb, or off for the userspace fallback)"
    )]
    Attach { iface: String, mode: AttachMode, source: ProgramError },
    #[error("BPF_PROG_TEST_RUN: {0}")]
    TestRun(ProgramError),
    #[error("interface {0} not found")]
    UnknownInterface(String),
    #[error("pinning the XDP program: {0}")]
    Pin(String),
    #[error("adopting the pinned XDP program: {0}")]
    Adopt(String),
}

/// How the program is attached to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// Native (driver) mode if the driver supports it, else generic; else no XDP.
    Auto,
    /// Driver mode (XDP_FLAGS_DRV_MODE).
    Native,
    /// Generic mode (XDP_FLAGS_SKB_MODE), works on any interface.
    Skb,
    /// No XDP: the userspace fallback applies the same decision.
    Off,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Auto => "auto",
            AttachMode::Native => "native",
            AttachMode::Skb => "skb",
            AttachMode::Off => "off",
        })
    }
}

/// Counter values summed over CPUs, indexed by `dhcp_common::maps::counter`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters(pub [u64; counter::COUNT as usize]);

impl Counters {
    pub fn get(&self, idx: u32) -> u64 {
        self.0.get(idx as usize).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Each counter by its name (`counter::NAMES`), sorted by name: how `/metrics` lists them.
    pub fn by_name(&self) -> BTreeMap<&'static str, u64> {
        counter::NAMES.iter().copied().zip(self.0.iter().copied()).collect()
    }
}

/// `{"not_dhcp": n, ...}` for logs, `xdhcpd status` and tests.
impl serde::Serialize for Counters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.by_name().serialize(s)
    }
}

/// The maps userspace reads and writes, of one loaded program: ours, or one a previous
/// xdhcpd left attached and this one adopted.
struct MapSet {
    steering: Array<MapData, Steering>,
    steering_active: Array<MapData, u32>,
    counters: PerCpuArray<MapData, u64>,
    active_slot: u32,
}

impl MapSet {
    fn from_maps(mut take: impl FnMut(&'static str) -> Result<Map, XdpError>) -> Result<Self, XdpError> {
        let steering =
            Array::try_from(take(STEERING_MAP)?).map_err(|source| XdpError::Map { name: STEERING_MAP, source })?;
        let steering_active: Array<MapData, u32> = Array::try_from(take(STEERING_ACTIVE_MAP)?)
            .map_err(|source| XdpError::Map { name: STEERING_ACTIVE_MAP, source })?;
        let counters = PerCpuArray::try_from(take(COUNTERS_MAP)?)
            .map_err(|source| XdpError::Map { name: COUNTERS_MAP, source })?;
        // An adopted program carries on with the slot its last owner made live.
        let active_slot = steering_active.get(&0, 0).unwrap_or(0) & 1;
        Ok(MapSet { steering, steering_active, counters, active_slot })
    }

    /// The maps of the loaded program `prog_id`, found by name among the maps it uses.
    fn of_program(prog_id: u32) -> Result<Self, XdpError> {
        let info = aya::programs::loaded_programs()
            .filter_map(Result::ok)
            .find(|p| p.id() == prog_id)
            .ok_or(XdpError::Adopt(format!("program {prog_id} is no longer loaded")))?;
        let ids = info.map_ids().map_err(XdpError::Verify)?.unwrap_or_default();
        let mut found: Vec<(String, Map)> = Vec::new();
        for id in ids {
            let data = MapData::from_id(id).map_err(|source| XdpError::Map { name: "(by id)", source })?;
            let name = data.info().ok().and_then(|i| i.name_as_str().map(str::to_string)).unwrap_or_default();
            if [STEERING_MAP, STEERING_ACTIVE_MAP, COUNTERS_MAP].contains(&name.as_str()) {
                let map = Map::from_map_data(data).map_err(|source| XdpError::Map { name: "(by id)", source })?;
                found.push((name, map));
            }
        }
        MapSet::from_maps(|name| {
            let i = found.iter().position(|(n, _)| n == name).ok_or(XdpError::MissingMap(name))?;
            Ok(found.swap_remove(i).1)
        })
    }

    /// The kernel's id of this set (its counter map's), to tell sets apart.
    fn id(&self) -> Option<u32> {
        self.counters.map().info().ok().map(|i| i.id())
    }

    /// Write the idle slot, then flip the active index: no packet sees half an update.
    fn set_steering(&mut self, s: &Steering) -> Result<(), XdpError> {
        let idle = self.active_slot ^ 1;
        self.steering.set(idle, *s, 0).map_err(|source| XdpError::Map { name: STEERING_MAP, source })?;
        self.steering_active.set(0, idle, 0).map_err(|source| XdpError::Map { name: STEERING_ACTIVE_MAP, source })?;
        self.active_slot = idle;
        Ok(())
    }

    fn add_counters(&self, out: &mut Counters) -> Result<(), XdpError> {
        for (i, slot) in out.0.iter_mut().enumerate() {
            let per_cpu =
                self.counters.get(&(i as u32), 0).map_err(|source| XdpError::Map { name: COUNTERS_MAP, source })?;
            *slot += per_cpu.iter().sum::<u64>();
        }
        Ok(())
    }

    /// Pin the maps in `dir`, replacing older pins of the same names.
    fn pin(&self, dir: &Path) -> Result<(), XdpError> {
        for (name, data) in [
            (STEERING_MAP, self.steering.map()),
            (STEERING_ACTIVE_MAP, self.steering_active.map()),
            (COUNTERS_MAP, self.counters.map()),
        ] {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            data.pin(&path).map_err(|e| XdpError::Pin(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }
}

/// How an interface came to run the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Attached by this process.
    Attached,
    /// A compatible program (same tag) left pinned by an earlier xdhcpd: kept running, its
    /// maps (steering, counters) taken over. No gap at all.
    Adopted,
    /// A pinned program of another build was atomically replaced by ours (`bpf_link_update`).
    Replaced,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Attached => "attached",
            Origin::Adopted => "adopted",
            Origin::Replaced => "replaced",
        })
    }
}

/// Who keeps an attachment alive.
enum Hold {
    /// This process: detached when it goes.
    Owned(XdpLinkId),
    /// A pin in `dir`: stays attached after this process exits. The link is held open while
    /// we run (so a concurrent `--detach-xdp` takes effect at our exit).
    Pinned { dir: PathBuf, _link: FdLink },
}

struct Attachment {
    iface: String,
    mode: AttachMode,
    origin: Origin,
    hold: Hold,
}

/// A loaded XDP program with its maps. Dropping it detaches what it attached without pinning;
/// pinned attachments stay.
pub struct XdpProgram {
    ebpf: Ebpf,
    // Keeps the log ring buffer's fd open: dropping the logger closes the map.
    _logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
    /// Our program's maps first, then those of adopted programs (one per distinct program).
    sets: Vec<MapSet>,
    /// The last steering published, given to sets adopted later.
    steering: Steering,
    attachments: Vec<Attachment>,
}

impl XdpProgram {
    /// Load and verify the embedded program. `log_level` patches aya-log's level in the
    /// object (0 = off; 4 = debug).
    pub fn load(log_level: u8) -> Result<Self, XdpError> {
        if !available() {
            return Err(XdpError::NotBuiltIn);
        }
        let mut ebpf = EbpfLoader::new().override_global("AYA_LOG_LEVEL", &log_level, false).load(OBJECT)?;
        let logger = match aya_log::EbpfLogger::init(&mut ebpf) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!("XDP log channel unavailable: {e}");
                None
            }
        };
        let prog: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(XdpError::MissingProgram(PROGRAM_NAME))?
            .try_into()
            .map_err(XdpError::Verify)?;
        prog.load().map_err(XdpError::Verify)?;
        let ours = MapSet::from_maps(|name| ebpf.take_map(name).ok_or(XdpError::MissingMap(name)))?;
        let mut me = XdpProgram {
            ebpf,
            _logger: logger,
            sets: vec![ours],
            steering: Steering::STANDALONE,
            attachments: Vec::new(),
        };
        me.set_steering(&Steering::STANDALONE)?;
        Ok(me)
    }

    fn prog(&mut self) -> Result<&mut Xdp, XdpError> {
        self.ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(XdpError::MissingProgram(PROGRAM_NAME))?
            .try_into()
            .map_err(XdpError::Verify)
    }

    /// Instructions the verifier processed when loading (kernel ≥ 5.16 reports it).
    pub fn verified_instructions(&mut self) -> Option<u32> {
        self.prog().ok()?.info().ok()?.verified_instruction_count()
    }

    /// The kernel's tag of our program (SHA of its instructions, map references masked): equal
    /// tags mean the same program, whichever process loaded it.
    fn tag(&mut self) -> Result<String, XdpError> {
        Ok(format!("{:016x}", self.prog()?.info().map_err(XdpError::Verify)?.tag()))
    }

    /// Attach to `iface`. `Auto` tries native, then generic. Returns the mode in use. The
    /// attachment lasts as long as this process (see [`Self::attach_pinned`] for more).
    pub fn attach(&mut self, iface: &str, mode: AttachMode) -> Result<AttachMode, XdpError> {
        let tries: &[AttachMode] = match mode {
            AttachMode::Auto => &[AttachMode::Native, AttachMode::Skb],
            AttachMode::Native => &[AttachMode::Native],
            AttachMode::Skb => &[AttachMode::Skb],
            AttachMode::Off => return Ok(AttachMode::Off),
        };
        let mut last = None;
        for &m in tries {
            let flags = if m == AttachMode::Native { XdpMode::Driver } else { XdpMode::Skb };
            match self.prog()?.attach(iface, flags) {
                Ok(id) => {
                    self.attachments.push(Attachment {
                        iface: iface.to_string(),
                        mode: m,
                        origin: Origin::Attached,
                        hold: Hold::Owned(id),
                    });
                    return Ok(m);
                }
                Err(e) => {
                    tracing::debug!(iface, mode = %m, "XDP attach failed: {e}");
                    last = Some((m, e));
                }
            }
        }
        match last {
            Some((m, source)) => Err(XdpError::Attach { iface: iface.to_string(), mode: m, source }),
            None => Ok(AttachMode::Off),
        }
    }

    /// Attach to `iface` so that the program outlives this process: pinned under
    /// `root/<iface>/`. If a program is already pinned there for this interface, it is
    /// adopted when it is ours (same tag: it keeps running, its maps are taken over and
    /// get fresh steering at once) and atomically replaced otherwise. A pin for an interface
    /// that no longer exists, or in another mode than explicitly asked, is removed first.
    pub fn attach_pinned(
        &mut self,
        iface: &str,
        mode: AttachMode,
        root: &Path,
    ) -> Result<(AttachMode, Origin), XdpError> {
        if mode == AttachMode::Off {
            return Ok((AttachMode::Off, Origin::Attached));
        }
        let dir = pin::iface_dir(root, iface);
        if let Some((link_path, pinned_mode)) = pin::pinned_link(&dir) {
            match self.reuse_pinned(iface, mode, &dir, &link_path, pinned_mode) {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(iface, "pinned XDP program not reusable ({e}); attaching a fresh one");
                    pin::remove_dir(&dir).map_err(|e| XdpError::Pin(e.to_string()))?;
                }
            }
        }
        let m = self.attach(iface, mode)?;
        if let Err(e) = self.pin_last(&dir) {
            tracing::warn!(iface, "XDP program not pinned ({e}): it will be detached when xdhcpd exits");
        }
        Ok((m, Origin::Attached))
    }

    /// Adopt or replace the program pinned at `link_path`. `Ok(None)`: the pin was stale or in
    /// the wrong mode and has been removed.
    fn reuse_pinned(
        &mut self,
        iface: &str,
        mode: AttachMode,
        dir: &Path,
        link_path: &Path,
        pinned_mode: AttachMode,
    ) -> Result<Option<(AttachMode, Origin)>, XdpError> {
        let link: FdLink = PinnedLink::from_pin(link_path)
            .map_err(|e| XdpError::Adopt(format!("{}: {e}", link_path.display())))?
            .into();
        let link_id = link.info().map_err(|e| XdpError::Adopt(e.to_string()))?.id();
        let info = pin::link_fdinfo(link_id).ok_or(XdpError::Adopt(format!("no fdinfo for link {link_id}")))?;
        let ifindex = ifindex_of(iface)?;
        if info.ifindex != ifindex {
            tracing::info!(iface, "removing a stale XDP pin (its interface is gone; link ifindex {})", info.ifindex);
            drop(link);
            pin::remove_dir(dir).map_err(|e| XdpError::Pin(e.to_string()))?;
            return Ok(None);
        }
        if mode != AttachMode::Auto && mode != pinned_mode {
            // The attach mode is fixed at attach time: switching it cannot be atomic.
            tracing::warn!(iface, pinned = %pinned_mode, asked = %mode, "replacing the pinned XDP program to change its mode (brief gap)");
            drop(link);
            pin::remove_dir(dir).map_err(|e| XdpError::Pin(e.to_string()))?;
            return Ok(None);
        }
        if info.prog_tag == self.tag()? {
            let set = MapSet::of_program(info.prog_id)?;
            let mut before = Counters::default();
            set.add_counters(&mut before)?;
            if let Err(e) = set.pin(dir) {
                tracing::warn!(iface, "re-pinning the adopted maps: {e}");
            }
            self.add_set(set)?;
            tracing::info!(
                iface,
                mode = %pinned_mode,
                prog_id = info.prog_id,
                tag = %info.prog_tag,
                frames_so_far = before.total(),
                "XDP: adopted the pinned program (no gap; counters continue)"
            );
            self.attachments.push(Attachment {
                iface: iface.to_string(),
                mode: pinned_mode,
                origin: Origin::Adopted,
                hold: Hold::Pinned { dir: dir.to_path_buf(), _link: link },
            });
            return Ok(Some((pinned_mode, Origin::Adopted)));
        }
        // Another build's program: swap ours in on the same link (one syscall, no gap).
        let xdp_link = XdpLink::try_from(link).map_err(|e| XdpError::Adopt(e.to_string()))?;
        let id = self.prog()?.attach_to_link(xdp_link).map_err(XdpError::Verify)?;
        let link: FdLink = self
            .prog()?
            .take_link(id)
            .map_err(XdpError::Verify)?
            .try_into()
            .map_err(|e: aya::programs::links::LinkError| XdpError::Adopt(e.to_string()))?;
        if let Some(ours) = self.sets.first()
            && let Err(e) = ours.pin(dir)
        {
            tracing::warn!(iface, "pinning the maps: {e}");
        }
        tracing::info!(iface, mode = %pinned_mode, old_tag = %info.prog_tag, "XDP: replaced the pinned program of another build (atomic)");
        self.attachments.push(Attachment {
            iface: iface.to_string(),
            mode: pinned_mode,
            origin: Origin::Replaced,
            hold: Hold::Pinned { dir: dir.to_path_buf(), _link: link },
        });
        Ok(Some((pinned_mode, Origin::Replaced)))
    }

    /// Pin the attachment just made (the last one) and our maps in `dir`.
    fn pin_last(&mut self, dir: &Path) -> Result<(), XdpError> {
        let Some(att) = self.attachments.pop() else { return Ok(()) };
        let Hold::Owned(id) = att.hold else {
            self.attachments.push(att);
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| XdpError::Pin(format!("{}: {e}", dir.display())))?;
        let xdp_link = self.prog()?.take_link(id).map_err(XdpError::Verify)?;
        let link: FdLink = match xdp_link.try_into() {
            Ok(l) => l,
            Err(e) => {
                // A netlink attachment (no bpf_link on this kernel) cannot be pinned, and the
                // conversion consumed it: attach again, owned.
                let e: aya::programs::links::LinkError = e;
                self.attach(&att.iface, att.mode)?;
                return Err(XdpError::Pin(format!("netlink XDP attachment: {e}")));
            }
        };
        let path = pin::link_file(dir, att.mode);
        let pinned = link.pin(&path).map_err(|e| XdpError::Pin(format!("{}: {e}", path.display())));
        let link: FdLink = match pinned {
            Ok(p) => p.into(),
            Err(e) => {
                // The link was dropped with the failed pin: attach again, owned.
                self.attach(&att.iface, att.mode)?;
                return Err(e);
            }
        };
        if let Some(ours) = self.sets.first()
            && let Err(e) = ours.pin(dir)
        {
            tracing::warn!(iface = %att.iface, "pinning the maps: {e}");
        }
        self.attachments.push(Attachment { hold: Hold::Pinned { dir: dir.to_path_buf(), _link: link }, ..att });
        Ok(())
    }

    /// Take over an adopted program's maps (once per program) and give it the current steering.
    fn add_set(&mut self, mut set: MapSet) -> Result<(), XdpError> {
        let id = set.id();
        if id.is_some() && self.sets.iter().any(|s| s.id() == id) {
            return Ok(());
        }
        set.set_steering(&self.steering)?;
        self.sets.push(set);
        Ok(())
    }

    /// Interfaces this program is attached to, with their modes.
    pub fn attachments(&self) -> impl Iterator<Item = (&str, AttachMode)> {
        self.attachments.iter().map(|a| (a.iface.as_str(), a.mode))
    }

    /// Interfaces with how each got its program (attached, adopted, replaced).
    pub fn origins(&self) -> impl Iterator<Item = (&str, Origin)> {
        self.attachments.iter().map(|a| (a.iface.as_str(), a.origin))
    }

    /// Detach from every interface, pinned attachments included (their pins are removed).
    pub fn detach_all(&mut self) -> Result<(), XdpError> {
        let all: Vec<_> = self.attachments.drain(..).collect();
        for a in all {
            match a.hold {
                Hold::Owned(id) => {
                    if let Err(e) = self.prog()?.detach(id) {
                        tracing::warn!(iface = %a.iface, "XDP detach: {e}");
                    }
                }
                Hold::Pinned { dir, _link } => {
                    drop(_link);
                    if let Err(e) = pin::remove_dir(&dir) {
                        tracing::warn!(iface = %a.iface, "XDP unpin: {e}");
                    }
                }
            }
        }
        Ok(())
    }

    /// At a normal exit: leave pinned attachments running with steering that passes every
    /// frame (classified and counted, never dropped), detach the others. See
    /// docs/ARCHITECTURE.md ("Restart without a gap") for why pass-all is the safe default.
    pub fn leave_pinned(&mut self) -> Result<(), XdpError> {
        self.set_steering(&Steering::STANDALONE)?;
        let all: Vec<_> = self.attachments.drain(..).collect();
        for a in all {
            match a.hold {
                Hold::Owned(id) => {
                    if let Err(e) = self.prog()?.detach(id) {
                        tracing::warn!(iface = %a.iface, "XDP detach: {e}");
                    }
                }
                Hold::Pinned { dir, .. } => tracing::info!(
                    iface = %a.iface,
                    pins = %dir.display(),
                    "XDP program left attached, passing every frame until the next start (`xdhcpd --detach-xdp` removes it)"
                ),
            }
        }
        Ok(())
    }

    /// Publish a steering configuration to every program in use. Atomic for each program:
    /// the idle slot is written, then the active index flips.
    pub fn set_steering(&mut self, s: &Steering) -> Result<(), XdpError> {
        self.steering = *s;
        for set in &mut self.sets {
            set.set_steering(s)?;
        }
        Ok(())
    }

    /// Counters summed over all CPUs (and over every program in use).
    pub fn counters(&self) -> Result<Counters, XdpError> {
        let mut out = Counters::default();
        for set in &self.sets {
            set.add_counters(&mut out)?;
        }
        Ok(out)
    }

    /// Run the program on one frame with BPF_PROG_TEST_RUN; returns the XDP action
    /// (1 = XDP_DROP, 2 = XDP_PASS) and the kernel's measured duration per run.
    pub fn test_run(&mut self, frame: &[u8], repeat: u32) -> Result<(u32, std::time::Duration), XdpError> {
        let opts = TestRunOptions { data_in: Some(frame), repeat: repeat.max(1), ..TestRunOptions::new() };
        let r = self.prog()?.test_run(opts).map_err(XdpError::TestRun)?;
        Ok((r.return_value, r.duration))
    }

    /// Run the program over `repeat` live frames copied from `frame`
    /// (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18+): the kernel builds real xdp_frames from a page
    /// pool, `batch` at a time as a driver's NAPI poll does, recycles the ones the program
    /// drops and sends the passed ones up the stack. What a NIC driver would pay per frame,
    /// without veth's skb cost. Returns the kernel's reported duration.
    pub fn test_run_live(&mut self, frame: &[u8], repeat: u32, batch: u32) -> Result<std::time::Duration, XdpError> {
        let opts = TestRunOptions {
            data_in: Some(frame),
            repeat: repeat.max(1),
            attrs: aya::programs::TestRunAttrs::new().xdp_live_frames(batch),
            ..TestRunOptions::new()
        };
        let r = self.prog()?.test_run(opts).map_err(XdpError::TestRun)?;
        Ok(r.duration)
    }
}

impl Drop for XdpProgram {
    fn drop(&mut self) {
        // Owned links are detached by aya when the program goes; pinned ones stay.
        for a in self.attachments.drain(..) {
            if let Hold::Owned(id) = a.hold
                && let Ok(p) =
                    self.ebpf.program_mut(PROGRAM_NAME).ok_or(()).and_then(|p| <&mut Xdp>::try_from(p).map_err(|_| ()))
            {
                let _ = p.detach(id);
            }
        }
    }
}

fn ifindex_of(iface: &str) -> Result<u32, XdpError> {
    let c = std::ffi::CString::new(iface).map_err(|_| XdpError::UnknownInterface(iface.to_string()))?;
    // SAFETY: valid NUL-terminated name.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(XdpError::UnknownInterface(iface.to_string())),
        i => Ok(i),
    }
}

/// XDP action codes (linux/bpf.h).
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    /// `xdhcpd status` (`xdp.counters`), the log events and `/metrics` name each counter as
    /// `counter::NAMES` does.
    #[test]
    fn counters_serialize_by_name() {
        let mut c = Counters::default();
        c.0[counter::DROP_PARTNER as usize] = 7;
        let v = serde_json::to_value(c).expect("serializes");
        let map = v.as_object().expect("an object");
        assert_eq!(map.len(), counter::NAMES.len());
        assert_eq!(v["drop_partner"], 7);
        assert_eq!(v["not_dhcp"], 0);
        assert_eq!(c.by_name().get("drop_partner"), Some(&7));
    }
}
